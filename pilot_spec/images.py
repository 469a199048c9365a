"""The file extensions that count as images: what the imagefolder dataset reads and what an upload may hold.

One list for both sides: an upload the API accepts is a folder the training can read (lower-cased suffix,
with its dot).
"""

from __future__ import annotations

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
