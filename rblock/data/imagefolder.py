"""A folder of class subfolders of images (the ``torchvision.datasets.ImageFolder`` layout), split by us.

``<path>/<class name>/<image>``: class names are the subfolder names in sorted order (label = position),
hidden entries (``.name``) are skipped, and files are images by extension (``IMAGE_EXTENSIONS``; other files,
such as a README, are ignored). Every image is opened with PIL, converted to RGB (or grey with
``channels=1``) and resized to ``image_size``² with bilinear filtering; the aspect ratio is not kept, which
suits the small, roughly square images a pilot trains on. The whole set is held in memory as uint8.

The split is stratified (``sklearn.model_selection.train_test_split`` with ``stratify``) by ``data_seed``,
so each class keeps its share in both halves and every arm of a pilot sees the same split.

A user points this at their own data, so every problem is a ``DatasetError`` that says what to fix: a
missing path, a file instead of a folder, no class subfolders, a class without images, an unreadable image
(named), a single class, or too few images per class for the split.

Augmentation: a random crop with padding ``image_size // 8`` (4 at 32, as for CIFAR) and, unless ``flip``
is false, a horizontal flip; set ``flip`` false when mirroring changes the class (text, digits, arrows).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile, UnidentifiedImageError
from sklearn.model_selection import train_test_split

from pilot_spec.images import IMAGE_EXTENSIONS
from rblock.data.spec import DatasetSpec
from rblock.data.split import DatasetError, RawDataset

# The service checks only an upload's image headers (decoding every image of a request cost seconds of API
# time); images are decoded here, one at a time, and one over this many pixels (a decompression bomb, or a
# photo far beyond what a pilot trains on) fails the run with its name. The service's default upload cap
# (UPLOAD_MAX_IMAGE_PIXELS) is the same.
MAX_IMAGE_PIXELS = 25_000_000


def find_images(path: Path) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """Class names and ``(file, label)`` pairs of an image folder, or a ``DatasetError`` saying what is wrong.

    Args:
        path: the folder that holds one subfolder per class.

    Returns:
        The sorted class names and every image file with its label, in sorted order.
    """
    if not path.exists():
        raise DatasetError(f"imagefolder: {path} does not exist; set 'path' to a folder of class subfolders")
    if not path.is_dir():
        raise DatasetError(f"imagefolder: {path} is not a directory; set 'path' to a folder of class subfolders")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(
            f"imagefolder: {path} has no class subfolders; put each class's images in <path>/<class name>/"
        )
    if len(classes) < 2:
        raise DatasetError(f"imagefolder: {path} has a single class ({classes[0]!r}); a classifier needs at least 2")
    samples: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        files = sorted(
            f
            for f in (path / name).iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise DatasetError(
                f"imagefolder: class folder {path / name} has no images (extensions: "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))}); add images or remove the folder"
            )
        samples.extend((f, label) for f in files)
    return tuple(classes), samples


_STRICT = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Decode with truncated files refused, whatever the process-wide setting says.

    ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is one global, and some libraries turn it on when imported
    (weasyprint, which the reports use, does): a truncated image would then train as padded grey instead of
    failing the run with its name. The lock keeps two threads from restoring each other's value.
    """
    with _STRICT:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def read_image(file: Path, image_size: int, channels: int) -> np.ndarray:
    """One image as uint8 (channels, image_size, image_size), or a ``DatasetError`` that names the file."""
    try:
        with _strict_decoding(), Image.open(file) as opened:
            width, height = opened.size  # from the header: nothing decoded yet
            if width * height > MAX_IMAGE_PIXELS:
                raise DatasetError(
                    f"imagefolder: image {file} is {width} × {height} pixels (at most {MAX_IMAGE_PIXELS:,}); "
                    "shrink or remove it"
                )
            converted = opened.convert("RGB" if channels == 3 else "L")
        resized = converted.resize((image_size, image_size), Image.Resampling.BILINEAR)
        arr = np.asarray(resized, dtype=np.uint8)
    except DatasetError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        # PIL's decoders raise the first four; a bomb beyond PIL's own cap raises the last
        raise DatasetError(f"imagefolder: cannot read image {file}: {e}; remove or replace the file") from e
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _check_split(samples: list[tuple[Path, int]], classes: tuple[str, ...], test_fraction: float) -> None:
    counts = np.bincount([label for _, label in samples], minlength=len(classes))
    n = int(counts.sum())
    n_test = math.ceil(test_fraction * n)  # as train_test_split rounds
    small = [classes[i] for i in np.flatnonzero(counts < 2)]
    if small:
        raise DatasetError(
            f"imagefolder: class(es) {small} have fewer than 2 images; a stratified split needs at least one "
            "train and one test image per class"
        )
    if n_test < len(classes) or n - n_test < len(classes):
        raise DatasetError(
            f"imagefolder: {n} images cannot be split with test_fraction={test_fraction} so that each of the "
            f"{len(classes)} classes appears in both halves ({n_test} test, {n - n_test} train); add images or "
            "change test_fraction"
        )


def load_imagefolder_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """Read and split the image folder ``path`` (a relative one lies under ``root``, the data root).

    Returns:
        A ``RawDataset`` with uint8 (N, C, S, S) train and test images, C = ``channels``, S = ``image_size``.
    """
    del download
    path = Path(params["path"]).expanduser()
    if not path.is_absolute():  # "uploads/<folder>", as the API shows an upload to non-admins
        path = root / path
    size, channels, test_fraction = params["image_size"], params["channels"], params["test_fraction"]
    classes, samples = find_images(path)
    _check_split(samples, classes, test_fraction)
    images = np.empty((len(samples), channels, size, size), dtype=np.uint8)
    for i, (file, _) in enumerate(samples):
        images[i] = read_image(file, size, channels)
    labels = np.array([label for _, label in samples], dtype=np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(samples)), test_size=test_fraction, stratify=labels, random_state=data_seed
    )
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    train, test = (torch.from_numpy(np.sort(np.asarray(i, dtype=np.int64))) for i in (train_idx, test_idx))
    return RawDataset(
        train_x=x[train],
        train_y=y[train],
        test_x=x[test],
        test_y=y[test],
        class_names=classes,
        augment=True,
        crop_padding=max(1, size // 8),
        flip=bool(params["flip"]),
    )


IMAGEFOLDER = DatasetSpec("imagefolder", load_imagefolder_raw)
