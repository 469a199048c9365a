"""A folder of class subfolders of images (the ``torchvision.datasets.ImageFolder`` layout), split by us.

``<path>/<class name>/<image>``: class names are the subfolder names in sorted order (label = position),
hidden entries (``.name``) are skipped, and files are images by extension (``IMAGE_EXTENSIONS``; other files,
such as a README, are ignored). Every image is opened with PIL, converted to RGB (or grey with
``channels=1``), its shorter side resized to ``image_size`` (bilinear) and the central ``image_size``²
square kept, train and test alike (a square image is simply resized). ``path`` resolves inside the data root
only (``rblock.data.paths``). ``load_dataset`` holds the whole set in memory as uint8 when it fits the memory
budget; otherwise ``open_dataset`` streams it from disk (``rblock.data.streaming``) with the same index.

The split is stratified (``sklearn.model_selection.train_test_split`` with ``stratify``) by ``data_seed``,
so each class keeps its share in both halves and every arm of a pilot sees the same split.

A user points this at their own data, so every problem is a ``DatasetError`` that says what to fix: a
missing path, a file instead of a folder, no class subfolders, a class without images, an unreadable image
(named), a single class, or too few images per class for the split.

Augmentation (train): a random crop with padding ``image_size // 8`` (4 at 32, as for CIFAR) of the
centre-cropped image and, unless ``flip`` is false, a horizontal flip; set ``flip`` false when mirroring
changes the class (text, digits, arrows).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile, UnidentifiedImageError
from sklearn.model_selection import train_test_split

from pilot_spec.images import IMAGE_EXTENSIONS
from rblock.data.paths import confine, inside
from rblock.data.spec import DatasetSpec
from rblock.data.split import DatasetError, RawDataset

# The service checks only an upload's image headers (decoding every image of a request cost seconds of API
# time); images are decoded here, one at a time, and one over this many pixels (a decompression bomb, or a
# photo far beyond what a pilot trains on) fails the run with its name. The service's default upload cap
# (UPLOAD_MAX_IMAGE_PIXELS) is the same.
MAX_IMAGE_PIXELS = 25_000_000


def find_images(path: Path, real_root: Path | None = None) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """Class names and ``(file, label)`` pairs of an image folder, or a ``DatasetError`` saying what is wrong.

    Args:
        path: the folder that holds one subfolder per class.
        real_root: when given, the resolved data root: a class folder or image that is a symlink leading out
            of it is refused (named as it is inside ``path``, never by where it leads).

    Returns:
        The sorted class names and every image file with its label, in sorted order.
    """
    if not path.exists():
        raise DatasetError(f"imagefolder: {path} does not exist; set 'path' to a folder of class subfolders")
    if not path.is_dir():
        raise DatasetError(f"imagefolder: {path} is not a directory; set 'path' to a folder of class subfolders")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if real_root is not None:
        _refuse_links_out(path, [path / name for name in classes], real_root)
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
        if real_root is not None:
            _refuse_links_out(path, files, real_root)
        samples.extend((f, label) for f in files)
    return tuple(classes), samples


def _refuse_links_out(path: Path, entries: list[Path], real_root: Path) -> None:
    for entry in entries:
        if entry.is_symlink() and not inside(entry, real_root):
            raise DatasetError(
                f"imagefolder: {entry.relative_to(path)} in {path} is a link that leads outside the data root; "
                "copy the file into the folder instead"
            )


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


def resize_centre_crop(image: Image.Image, size: int) -> Image.Image:
    """The shorter side resized to ``size`` (bilinear), then the central ``size`` × ``size`` square.

    A square image is resized to ``size`` × ``size`` exactly as before this crop existed.
    """
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    resized = image.resize(new, Image.Resampling.BILINEAR)
    if new == (size, size):
        return resized
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return resized.crop((left, top, left + size, top + size))


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
        arr = np.asarray(resize_centre_crop(converted, image_size), dtype=np.uint8)
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


@dataclass(frozen=True)
class ImageFolderIndex:
    """An image folder's files split into train and test (nothing decoded): what both loading paths read."""

    classes: tuple[str, ...]
    train_files: tuple[Path, ...]
    train_labels: torch.Tensor  # int64
    test_files: tuple[Path, ...]
    test_labels: torch.Tensor  # int64

    @property
    def images(self) -> int:
        return len(self.train_files) + len(self.test_files)


def folder_path(root: Path, params: Mapping[str, Any]) -> Path:
    """``params["path"]`` resolved inside the data root ``root`` (a relative one lies under it)."""
    return confine(Path(params["path"]), root)


def index_imagefolder(root: Path, data_seed: int, params: Mapping[str, Any]) -> ImageFolderIndex:
    """List and split the image folder ``path`` (confined to the data root ``root``) by ``data_seed``."""
    path = folder_path(root, params)
    classes, samples = find_images(path, root.resolve())
    test_fraction = params["test_fraction"]
    _check_split(samples, classes, test_fraction)
    labels = np.array([label for _, label in samples], dtype=np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(samples)), test_size=test_fraction, stratify=labels, random_state=data_seed
    )
    train, test = (np.sort(np.asarray(i, dtype=np.int64)) for i in (train_idx, test_idx))
    return ImageFolderIndex(
        classes=classes,
        train_files=tuple(samples[i][0] for i in train),
        train_labels=torch.from_numpy(labels[train]),
        test_files=tuple(samples[i][0] for i in test),
        test_labels=torch.from_numpy(labels[test]),
    )


def read_images(files: tuple[Path, ...], size: int, channels: int) -> torch.Tensor:
    """uint8 (len(files), channels, size, size), decoded one at a time."""
    images = np.empty((len(files), channels, size, size), dtype=np.uint8)
    for i, file in enumerate(files):
        images[i] = read_image(file, size, channels)
    return torch.from_numpy(images)


def imagefolder_augmentation(params: Mapping[str, Any]) -> tuple[int, bool]:
    """(crop padding, flip): pad ``image_size // 8`` (4 at 32, as for CIFAR), flip unless ``flip`` is false."""
    return max(1, params["image_size"] // 8), bool(params["flip"])


def load_imagefolder_raw(root: Path, download: bool, data_seed: int, params: Mapping[str, Any]) -> RawDataset:
    """Read and split the image folder ``path`` (a relative one lies under ``root``, the data root).

    Returns:
        A ``RawDataset`` with uint8 (N, C, S, S) train and test images, C = ``channels``, S = ``image_size``.
    """
    del download
    size, channels = params["image_size"], params["channels"]
    index = index_imagefolder(root, data_seed, params)
    crop_padding, flip = imagefolder_augmentation(params)
    return RawDataset(
        train_x=read_images(index.train_files, size, channels),
        train_y=index.train_labels,
        test_x=read_images(index.test_files, size, channels),
        test_y=index.test_labels,
        class_names=index.classes,
        augment=True,
        crop_padding=crop_padding,
        flip=flip,
    )


IMAGEFOLDER = DatasetSpec("imagefolder", load_imagefolder_raw)
