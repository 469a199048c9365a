"""Each dataset's ``Footprint`` (image count and stored shape) from its parameters, before a pixel is read.

The fixed sets' counts and sides are ``pilot_spec.datasets``' sizes (the ones the cost estimate uses; the
subsets ``max_train``/``max_test`` cap them); an image folder is listed, not decoded. ``native_side`` is the
side a fixed set is stored at, which ``image_size`` replaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pilot_spec.datasets import DATASETS
from rblock.data.imagefolder import index_imagefolder
from rblock.data.memory import Footprint

_GREY = frozenset({"digits", "mnist", "fashion_mnist"})  # one channel; every other fixed set is RGB


def native_side(name: str) -> int | None:
    """The side a fixed-size dataset is stored at (None for ``imagefolder``, whose side is a parameter)."""
    side = DATASETS[name].sizes.get("image_size")
    return int(side) if side is not None else None


def _count(sizes: Mapping[str, Any], params: Mapping[str, Any], split: str, limit_key: str) -> int:
    full = sizes.get(f"{split}_size")
    if full is None:
        full = params[sizes[f"{split}_size_param"]]
    limit = params.get(sizes[limit_key]) if limit_key in sizes else None
    return int(full) if not limit or int(limit) >= int(full) else int(limit)


def footprint(name: str, root: Path, data_seed: int, params: Mapping[str, Any], side: int | None) -> Footprint:
    """The dataset's footprint at ``side`` px (None: its native side) with validated ``params``."""
    if name == "imagefolder":
        index = index_imagefolder(root, data_seed, params)
        size = int(params["image_size"])
        return Footprint(index.images, int(params["channels"]), size, size)
    sizes = DATASETS[name].sizes
    images = _count(sizes, params, "train", "limit_param") + _count(sizes, params, "test", "test_limit_param")
    stored = side if side is not None else int(sizes["image_size"])
    return Footprint(images, 1 if name in _GREY else 3, stored, stored)
