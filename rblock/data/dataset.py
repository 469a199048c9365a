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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from pilot_spec.training import TRAINING
from rblock.data.batches import TensorBatches
from rblock.data.digits import DIGITS
from rblock.data.footprints import footprint, native_side
from rblock.data.imagefolder import IMAGEFOLDER, imagefolder_augmentation, index_imagefolder
from rblock.data.label_noise import apply_label_noise
from rblock.data.memory import DATA_MEMORY_ENV, gib, resolve_memory_budget
from rblock.data.resize import resize_images, scaled_padding
from rblock.data.seeding import STREAM_LABEL_NOISE, derive_seed
from rblock.data.shapes import SHAPES
from rblock.data.spec import DatasetSpec, validate_params
from rblock.data.split import (
    DatasetError,
    DatasetSplit,
    DatasetTooLargeError,
    Normalisation,
    RawDataset,
    check_normalisation,
    normalise,
)
from rblock.data.streaming import (
    ImageFiles,
    ResizedImages,
    StreamedBatches,
    StreamingSplit,
    sampled_stats,
    streamed_batches,
)
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


@dataclass(frozen=True)
class _Request:
    """A checked dataset request: what both loading paths need."""

    spec: DatasetSpec
    root: Path
    download: bool
    data_seed: int
    label_noise: float
    params: dict[str, Any]
    side: int | None  # image_size for a fixed-size set (None: native); image folders carry theirs in params
    normalisation: Normalisation | None
    budget: int


def _request(
    name: str,
    data_root: str | os.PathLike[str] | None,
    download: bool,
    data_seed: int,
    label_noise: float,
    image_size: int | None,
    normalisation: Normalisation | None,
    memory_budget: int | None,
    params: dict[str, Any],
) -> _Request:
    spec = get_spec(name)
    for setting, value in (("data_seed", data_seed), ("label_noise", label_noise)):
        if (problem := TRAINING[setting].check(value)) is not None:
            raise DatasetError(f"{setting} {problem}")
    side = None
    if image_size is not None:
        # Every image set takes ``image_size`` (pilot_spec.datasets); the image folder reads its own, a
        # fixed-size set is resized here from its native side. One parameter, one check, for both.
        params = {**params, "image_size": image_size}
    checked = validate_params(spec, params)
    native = native_side(name)
    if native is not None:
        requested = checked.pop("image_size", None)
        side = requested if requested is not None and requested != native else None
    return _Request(
        spec,
        resolve_data_root(data_root),
        download,
        data_seed,
        float(label_noise),
        checked,
        side,
        normalisation,
        resolve_memory_budget(memory_budget),
    )


def open_dataset(
    name: str,
    *,
    data_root: str | os.PathLike[str] | None = None,
    download: bool = False,
    data_seed: int = 0,
    label_noise: float = 0.0,
    image_size: int | None = None,
    normalisation: Normalisation | None = None,
    memory_budget: int | None = None,
    stream: bool = True,
    **params: Any,
) -> DatasetSplit | StreamingSplit:
    """Load one dataset in memory when it fits the memory budget, else (``stream``) a ``StreamingSplit`` read
    per batch. The choice is made on an estimate (``rblock.data.memory``) before any image is decoded;
    ``batches_for`` gives the batches of either kind.

    Args:
        name: one of ``DATASETS``.
        data_root: folder of the downloadable sets' files (default ``$DATA_ROOT`` or ``./var/data``); an image
            folder's ``path`` must lie inside it.
        download: fetch missing files of the downloadable sets (never done otherwise).
        data_seed: in [0, 2**32); seeds the split (digits, imagefolder), the generated images (shapes), the
            optional subsets and the label noise; not the training.
        label_noise: fraction in [0, 1) of train labels replaced by another class (the test split stays clean).
        image_size: the side the images are resized (and centre-cropped) to; the image folder's own
            parameter, for the other sets a resize from their native side (None: native).
        normalisation: (mean, std) per channel in [0, 1] pixel units, e.g. the pretrained weights'; None: the
            train split's statistics.
        memory_budget: bytes the images may take (default ``$DATA_MEMORY_BYTES`` or a quarter of the RAM);
            checked on an estimate before anything is read.
        stream: stream a set over the budget; False refuses it (``DatasetTooLargeError``), as ``load_dataset``.
        params: the dataset's own parameters (``describe_datasets()[name]["params"]``).

    Returns:
        A ``DatasetSplit`` (float32 (N, C, H, W) train and (M, C, H, W) test images normalised with the train
        split's per-channel mean and std, or ``normalisation``; int64 (N,) and (M,) labels), or a
        ``StreamingSplit`` of the same facts whose images are read from disk per batch.
    """
    request = _request(
        name, data_root, download, data_seed, label_noise, image_size, normalisation, memory_budget, params
    )
    size = footprint(name, request.root, data_seed, request.params, request.side)
    if size.fits(request.budget):
        return _in_memory(request)
    if not stream:
        raise DatasetTooLargeError(
            f"{name}: {size.images:,} images of {size.channels}×{size.height}×{size.width} need about "
            f"{gib(size.in_memory_peak_bytes)} in memory, over the data memory budget of {gib(request.budget)} "
            f"({DATA_MEMORY_ENV}): stream it (open_dataset), or use a smaller image_size or fewer images"
        )
    return _streamed(request)


def load_dataset(name: str, **options: Any) -> DatasetSplit:
    """``open_dataset`` in memory only (same arguments): a set over the memory budget raises
    ``DatasetTooLargeError`` instead of streaming."""
    data = open_dataset(name, **options, stream=False)
    assert isinstance(data, DatasetSplit)  # stream=False never returns a StreamingSplit
    return data


def _noisy(request: _Request, train_y: Tensor, classes: int) -> Tensor:
    if request.label_noise == 0.0:
        return train_y
    seed = derive_seed(request.data_seed, STREAM_LABEL_NOISE)
    return apply_label_noise(train_y, request.label_noise, classes, seed)


def _resized(raw: RawDataset, side: int | None) -> RawDataset:
    if side is None:
        return raw
    native = int(raw.train_x.shape[2])
    return replace(
        raw,
        train_x=resize_images(raw.train_x, side),
        test_x=resize_images(raw.test_x, side),
        crop_padding=scaled_padding(raw.crop_padding, native, side),
    )


def _in_memory(request: _Request) -> DatasetSplit:
    spec = request.spec
    raw = _resized(spec.loader(request.root, request.download, request.data_seed, request.params), request.side)
    train_y = _noisy(request, raw.train_y, len(raw.class_names))
    return normalise(raw, name=spec.name, train_y=train_y, label_noise=request.label_noise, stats=request.normalisation)


def _streamed(request: _Request) -> StreamingSplit:
    name, params = request.spec.name, request.params
    train: Dataset[Tensor]
    test: Dataset[Tensor]
    if name == "imagefolder":
        index = index_imagefolder(request.root, request.data_seed, params)
        size, channels = int(params["image_size"]), int(params["channels"])
        train, test = ImageFiles(index.train_files, size, channels), ImageFiles(index.test_files, size, channels)
        crop_padding, flip = imagefolder_augmentation(params)
        classes, train_y, test_y, augment = index.classes, index.train_labels, index.test_labels, True
        shape = (channels, size, size)
    else:  # a fixed-size set resized past the budget: its native arrays are small, the resized ones are not
        raw = request.spec.loader(request.root, request.download, request.data_seed, params)
        native = int(raw.train_x.shape[2])
        side = request.side or native
        train, test = ResizedImages(raw.train_x, side), ResizedImages(raw.test_x, side)
        crop_padding, flip = scaled_padding(raw.crop_padding, native, side), raw.flip
        classes, train_y, test_y, augment = raw.class_names, raw.train_y, raw.test_y, raw.augment
        shape = (int(raw.train_x.shape[1]), side, side)
    if request.normalisation is not None:
        mean, std = check_normalisation(request.normalisation, shape[0])
    else:
        mean, std = sampled_stats(train, request.data_seed, request.budget)
    return StreamingSplit(
        name=name,
        train=train,
        train_y=_noisy(request, train_y, len(classes)),
        test=test,
        test_y=test_y,
        shape=shape,
        num_classes=len(classes),
        class_names=classes,
        augment=augment,
        crop_padding=crop_padding,
        flip=flip,
        label_noise=request.label_noise,
        mean=mean,
        std=std,
        budget=request.budget,
    )


def batches_for(
    data: DatasetSplit | StreamingSplit, batch_size: int, *, train: bool, **kwargs: Any
) -> TensorBatches | StreamedBatches:
    """The train or test batches of either kind of split (``kwargs`` as ``TensorBatches``: shuffle, augment,
    seed, device, drop_last, padding_mode); the dataset's own crop padding and flip are filled in."""
    if isinstance(data, StreamingSplit):
        return streamed_batches(data, batch_size, train=train, **kwargs)
    x, y = (data.train_x, data.train_y) if train else (data.test_x, data.test_y)
    return TensorBatches(x, y, batch_size, crop_padding=data.crop_padding, flip=data.flip, **kwargs)
