"""Each dataset's ``Footprint`` (image count and stored shape) from its parameters, before a pixel is read.

The fixed sets' counts are their official split sizes (the subsets ``max_train``/``max_test`` cut them); an
image folder is listed (not decoded). ``native_side`` is the side the fixed sets are stored at, which
``image_size`` replaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rblock.data.imagefolder import index_imagefolder
from rblock.data.memory import Footprint

# name: (train images, test images, channels, native side)
_FIXED: dict[str, tuple[int, int, int, int]] = {
    "digits": (1437, 360, 1, 8),
    "cifar10": (50_000, 10_000, 3, 32),
    "cifar100": (50_000, 10_000, 3, 32),
    "mnist": (60_000, 10_000, 1, 28),
    "fashion_mnist": (60_000, 10_000, 1, 28),
    "svhn": (73_257, 26_032, 3, 32),
}
SHAPES_SIDE = 32


def native_side(name: str) -> int | None:
    """The side a fixed-size dataset is stored at (None for ``imagefolder``, whose side is a parameter)."""
    if name == "shapes":
        return SHAPES_SIDE
    return _FIXED[name][3] if name in _FIXED else None


def _capped(full: int, limit: Any) -> int:
    return full if not limit or int(limit) >= full else int(limit)


def footprint(name: str, root: Path, data_seed: int, params: Mapping[str, Any], side: int | None) -> Footprint:
    """The dataset's footprint at ``side`` px (None: its native side) with validated ``params``."""
    if name == "imagefolder":
        index = index_imagefolder(root, data_seed, params)
        size = int(params["image_size"])
        return Footprint(index.images, int(params["channels"]), size, size)
    if name == "shapes":
        images, channels, native = int(params["n_train"]) + int(params["n_test"]), 3, SHAPES_SIDE
    else:
        train, test, channels, native = _FIXED[name]
        images = _capped(train, params.get("max_train")) + _capped(test, params.get("max_test"))
    size = native if side is None else side
    return Footprint(images, channels, size, size)
