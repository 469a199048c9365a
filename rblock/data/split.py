"""The dataset contract of the training engine: ``DatasetSplit``, the raw loader output and normalisation.

Every loader (digits, shapes, torchvision sets, image folders) returns a ``RawDataset``: images in [0, 1]
(or uint8 in [0, 255], to spare memory on large sets) with their labels and the augmentation that suits them.
``load_dataset`` then applies label noise and normalises both splits with the per-channel mean and std of
the *train* split (the test split must not leak into the statistics), giving a ``DatasetSplit`` whose
tensors the training loop uses as they are.

Errors are ``DatasetError`` (a ``ValueError``): the message says what to fix. Missing files raise
``DatasetNotFoundError``, which is both a ``DatasetError`` and a ``FileNotFoundError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

# A channel whose train images are constant would otherwise divide by zero.
MIN_STD = 1e-6


class DatasetError(ValueError):
    """A dataset name, parameter or file is wrong; the message says what to fix."""


class DatasetTooLargeError(DatasetError):
    """The dataset does not fit the data memory budget in memory; the message gives the sizes."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset's files are not where they must be; the message names the folder and the files."""


@dataclass(frozen=True, eq=False)
class SplitFacts:
    """What a split says about its data beyond the images, the same in memory and streamed (attributes as
    ``DatasetSplit``)."""

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    augment: bool
    crop_padding: int
    flip: bool
    label_noise: float


@dataclass(frozen=True, eq=False)
class DatasetSplit(SplitFacts):
    """A normalised train/test split held in memory.

    Attributes:
        name: the registry name, e.g. ``"cifar10"``.
        train_x: float32 (N, C, H, W), normalised with the train split's per-channel mean and std.
        train_y: int64 (N,), possibly with ``label_noise`` of them replaced.
        test_x: float32 (M, C, H, W), normalised with the train statistics.
        test_y: int64 (M,), always clean.
        num_classes: number of classes K; labels lie in [0, K).
        class_names: K names, index = label.
        augment: whether random crop (+ flip when ``flip``) suits this dataset by default.
        crop_padding: padding of the random crop in pixels (0 = no crop).
        flip: whether a horizontal flip keeps the class (False for digits and house numbers).
        label_noise: the fraction of train labels that were replaced by another class.
        mean: per-channel mean of the train split before normalisation (pixel values in [0, 1]).
        std: per-channel std of the train split before normalisation.
    """

    train_x: Tensor = field(repr=False)
    train_y: Tensor = field(repr=False)
    test_x: Tensor = field(repr=False)
    test_y: Tensor = field(repr=False)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for split, x, y in (("train", self.train_x, self.train_y), ("test", self.test_x, self.test_y)):
            if x.dim() != 4 or x.dtype != torch.float32:
                raise DatasetError(f"{split}_x must be float32 (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
            if y.dim() != 1 or y.dtype != torch.int64 or y.shape[0] != x.shape[0]:
                raise DatasetError(f"{split}_y must be int64 ({x.shape[0]},), got {y.dtype} {tuple(y.shape)}")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise DatasetError(f"train and test images differ: {self.train_x.shape[1:]} vs {self.test_x.shape[1:]}")
        if len(self.class_names) != self.num_classes:
            raise DatasetError(f"{len(self.class_names)} class names for {self.num_classes} classes")

    @property
    def in_channels(self) -> int:
        """C, the number of image channels."""
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return int(self.train_x.shape[2]), int(self.train_x.shape[3])


@dataclass(frozen=True, eq=False)
class RawDataset:
    """What a loader returns: unnormalised images (float in [0, 1] or uint8) and the augmentation defaults.

    Attributes:
        train_x: (N, C, H, W), float32 in [0, 1] or uint8 in [0, 255].
        train_y: int64 (N,).
        test_x: (M, C, H, W), same dtype as ``train_x``.
        test_y: int64 (M,).
        class_names: K names, index = label.
        augment, crop_padding, flip: as in ``DatasetSplit``.
    """

    train_x: Tensor = field(repr=False)
    train_y: Tensor = field(repr=False)
    test_x: Tensor = field(repr=False)
    test_y: Tensor = field(repr=False)
    class_names: tuple[str, ...]
    augment: bool
    crop_padding: int
    flip: bool


def to_unit_float(x: Tensor) -> Tensor:
    """Images as float32 in [0, 1]: uint8 is divided by 255, float is converted (a copy either way).

    Args:
        x: (N, C, H, W) uint8 or floating.

    Returns:
        float32 (N, C, H, W), a new tensor that may be modified in place.
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x.to(torch.float32, copy=True)


def channel_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std (population) of a batch of images.

    Args:
        x: float32 (N, C, H, W).

    Returns:
        mean and std, each float32 (C,); std is at least 1e-6.
    """
    # torch's CPU reductions sum in cascades, accurate to ~1e-6 on a 50k-image channel without a float64 copy.
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    std = var.sqrt().clamp_min(MIN_STD)
    return mean, std


Normalisation = tuple[tuple[float, ...], tuple[float, ...]]


def check_normalisation(stats: Normalisation, channels: int) -> Normalisation:
    """Given (mean, std) as floats, one per channel, std > 0; else a DatasetError saying what to pass."""
    mean, std = stats
    ok = len(mean) == len(std) == channels and all(isinstance(v, int | float) for v in (*mean, *std))
    if not ok or not all(v > 0 for v in std):
        raise DatasetError(
            f"normalisation must be (mean, std) with {channels} number(s) each and every std > 0, got {stats!r}"
        )
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def normalise(
    raw: RawDataset, *, name: str, train_y: Tensor, label_noise: float, stats: Normalisation | None = None
) -> DatasetSplit:
    """Normalise both splits with the train split's per-channel statistics (or the given ``stats``).

    Args:
        raw: the loader's output.
        name: the dataset's registry name.
        train_y: int64 (N,), the train labels to keep (after label noise).
        label_noise: the fraction of ``train_y`` that differs from ``raw.train_y``.
        stats: (mean, std) per channel to use instead, e.g. the pretrained weights' (pixel values in [0, 1]).

    Returns:
        The ``DatasetSplit`` with float32 (N, C, H, W) / (M, C, H, W) normalised images.
    """
    train_x = to_unit_float(raw.train_x)
    test_x = to_unit_float(raw.test_x)
    if stats is None:
        mean, std = channel_stats(train_x)
    else:
        given = check_normalisation(stats, train_x.shape[1])
        mean, std = torch.tensor(given[0]), torch.tensor(given[1])
    scale = (mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1))
    train_x.sub_(scale[0]).div_(scale[1])
    test_x.sub_(scale[0]).div_(scale[1])
    return DatasetSplit(
        name=name,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=raw.test_y,
        num_classes=len(raw.class_names),
        class_names=raw.class_names,
        augment=raw.augment,
        crop_padding=raw.crop_padding,
        flip=raw.flip,
        label_noise=label_noise,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
    )
