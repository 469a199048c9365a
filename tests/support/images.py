"""Image folders written for the data tests: one subfolder per class, PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def noise_folder(root: Path, classes: int = 3, per_class: int = 12, side: int = 16) -> Path:
    """Square random-noise PNGs (distinct pixels, so a batch's images say which files they are)."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i:03d}.png")
    return root
