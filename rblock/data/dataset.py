"""The dataset registry: ``load_dataset(name, ...)`` → a normalised ``DatasetSplit``; ``describe_datasets()``.

One entry point for every dataset a pilot can train on, so the worker and the API (which lists the datasets
and their parameters from ``describe_datasets``, JSON as it is) never branch on the name. The steps are the
same for all: validate the parameters, load the raw images, replace the asked fraction of train labels
(seeded by ``data_seed``, so every arm and training seed of a pilot sees the same noisy labels), then
normalise both splits with the train split's per-channel mean and std.

Files are looked up under ``data_root``, else ``$DATA_ROOT``, else ``./var/data`` (the service's default
data folder); ``digits`` and ``shapes`` need no files, ``imagefolder`` reads its own ``path``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pilot_spec.training import TRAINING
from rblock.data.digits import DIGITS
from rblock.data.imagefolder import IMAGEFOLDER
from rblock.data.label_noise import apply_label_noise
from rblock.data.seeding import STREAM_LABEL_NOISE, derive_seed
from rblock.data.shapes import SHAPES
from rblock.data.spec import DatasetSpec, validate_params
from rblock.data.split import DatasetError, DatasetSplit, normalise
from rblock.data.torchvision_sets import CIFAR10, CIFAR100, FASHION_MNIST, MNIST, SVHN

DATA_ROOT_ENV = "DATA_ROOT"
DEFAULT_DATA_ROOT = Path("var") / "data"

_REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec for spec in (DIGITS, SHAPES, CIFAR10, CIFAR100, MNIST, FASHION_MNIST, SVHN, IMAGEFOLDER)
}
DATASETS: tuple[str, ...] = tuple(_REGISTRY)


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds the dataset files: ``data_root``, else ``$DATA_ROOT``, else ``./var/data``."""
    if data_root is None:
        data_root = os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(data_root).expanduser().absolute()


def get_spec(name: str) -> DatasetSpec:
    """The registry entry of ``name``, or a ``DatasetError`` listing the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def describe_datasets() -> dict[str, dict[str, Any]]:
    """Every dataset with its description and parameters, JSON-serialisable.

    Returns:
        ``{name: {"description": str, "params": {key: {"default": value, "help": str}}}}`` in ``DATASETS``
        order; ``imagefolder``'s required ``path`` has the default ``None``.
    """
    return {name: spec.describe() for name, spec in _REGISTRY.items()}


def load_dataset(
    name: str,
    *,
    data_root: str | os.PathLike[str] | None = None,
    download: bool = False,
    data_seed: int = 0,
    label_noise: float = 0.0,
    **params: Any,
) -> DatasetSplit:
    """Load, (optionally) corrupt and normalise one dataset.

    Args:
        name: one of ``DATASETS``.
        data_root: folder of the downloadable sets' files (default ``$DATA_ROOT`` or ``./var/data``).
        download: fetch missing files of the downloadable sets (never done otherwise).
        data_seed: in [0, 2**32); seeds the split (digits, imagefolder), the generated images (shapes), the
            optional subsets and the label noise; not the training.
        label_noise: fraction in [0, 1) of train labels replaced by another class (the test split stays clean).
        params: the dataset's own parameters (``describe_datasets()[name]["params"]``).

    Returns:
        A ``DatasetSplit``: float32 (N, C, H, W) train and (M, C, H, W) test images normalised with the train
        split's per-channel mean and std, int64 (N,) and (M,) labels.
    """
    spec = get_spec(name)
    for setting, value in (("data_seed", data_seed), ("label_noise", label_noise)):
        if (problem := TRAINING[setting].check(value)) is not None:
            raise DatasetError(f"{setting} {problem}")
    checked = validate_params(spec, params)
    raw = spec.loader(resolve_data_root(data_root), download, data_seed, checked)
    train_y = raw.train_y
    if label_noise > 0.0:
        seed = derive_seed(data_seed, STREAM_LABEL_NOISE)
        train_y = apply_label_noise(train_y, float(label_noise), len(raw.class_names), seed)
    return normalise(raw, name=name, train_y=train_y, label_noise=float(label_noise))
