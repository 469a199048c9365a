"""Datasets larger than the memory budget, streamed from disk through a ``DataLoader`` with worker processes.

A ``StreamingSplit`` holds the labels and, per split, a ``Dataset`` that gives one image as uint8 (C, S, S)
by index: ``ImageFiles`` decodes an image folder's file (resized and centre-cropped as the in-memory path
does), ``ResizedImages`` resizes a natively stored set (CIFAR at 224 px). ``StreamedBatches`` draws each
epoch's order, crop offsets and flips exactly as ``TensorBatches`` does (``batches.draw_epoch``), asks the
loader processes for those indices batch by batch, and on the device converts to float, normalises, crops
and flips: for one seed both paths give the same batches (the same order, labels and augmentation; the
pixels differ only where the normalisation statistics do).

Memory: the loader processes hold ``prefetch`` uint8 batches each; the worker count is cut until that fits
the budget (``memory.streaming_bytes``). The normalisation statistics, when not given (pretrained weights
give theirs), come from at most ``STATS_SAMPLE`` train images drawn by the data seed: an exact pass would
decode the whole set once more before training starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from rblock.data.batches import BatchOptions, EpochBatches, EpochDraw, augment_batch, batch_bounds
from rblock.data.imagefolder import read_image
from rblock.data.memory import gib, streaming_bytes
from rblock.data.resize import resize_images
from rblock.data.seeding import STREAM_SUBSET, derive_seed
from rblock.data.split import MIN_STD, DatasetError, SplitFacts

STATS_SAMPLE = 2048
PREFETCH = 2
MAX_LOADER_WORKERS = 8


class ImageFiles(Dataset[Tensor]):
    """Image files decoded one by one: uint8 (channels, size, size), as ``imagefolder.read_image`` reads them."""

    def __init__(self, files: tuple[Path, ...], size: int, channels: int) -> None:
        self.files, self.size, self.channels = files, size, channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor:
        return torch.from_numpy(read_image(self.files[index], self.size, self.channels).copy())  # a writable copy


class ResizedImages(Dataset[Tensor]):
    """Natively stored square images (uint8 or float in [0, 1]) resized one by one to ``size``."""

    def __init__(self, x: Tensor, size: int) -> None:
        self.x, self.size = x, size

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> Tensor:
        return resize_images(self.x[index : index + 1], self.size)[0]


@dataclass(frozen=True, eq=False)
class StreamingSplit(SplitFacts):
    """A train/test split read from disk per batch; the counterpart of ``DatasetSplit`` (same attributes but
    the images: ``train`` and ``test`` give unnormalised images by index, ``mean``/``std`` normalise them)."""

    train: Dataset[Tensor] = field(repr=False)
    train_y: Tensor = field(repr=False)
    test: Dataset[Tensor] = field(repr=False)
    test_y: Tensor = field(repr=False)
    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    budget: int

    @property
    def in_channels(self) -> int:
        return self.shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        return self.shape[1], self.shape[2]

    @property
    def sample_bytes(self) -> int:
        """One image as uint8."""
        return self.shape[0] * self.shape[1] * self.shape[2]


def default_loader_workers() -> int:
    """Loader processes: the CPUs this process may use, less one for the training loop, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_LOADER_WORKERS, cpus - 1))


def workers_within(budget: int, sample_bytes: int, batch_size: int, most: int, *, host_floats: bool) -> int:
    """The most loader processes (<= ``most``) whose batches in flight fit ``budget``, or a DatasetError."""
    for workers in range(most, 0, -1):
        if streaming_bytes(sample_bytes, batch_size, workers, PREFETCH, host_floats=host_floats) <= budget:
            return workers
    need = streaming_bytes(sample_bytes, batch_size, 1, PREFETCH, host_floats=host_floats)
    raise DatasetError(
        f"even streamed, batches of {batch_size} images of {sample_bytes:,} bytes need {gib(need)}, over the "
        f"data memory budget of {gib(budget)} (DATA_MEMORY_BYTES): use a smaller batch_size or image_size"
    )


def _one_thread(_: int) -> None:
    # Each loader process resizes on the CPU: one thread each, or N processes × N threads fight for N cores.
    torch.set_num_threads(1)


class _Positions:
    """The batch sampler of a persistent loader: the indices of the current epoch's batches, in order."""

    def __init__(self, n: int, batch_size: int, drop_last: bool) -> None:
        self.n, self.batch_size, self.drop_last = n, batch_size, drop_last
        self.order = torch.arange(n)

    def __iter__(self) -> Iterator[list[int]]:
        for start, end in batch_bounds(self.n, self.batch_size, self.drop_last):
            yield self.order[start:end].tolist()

    def __len__(self) -> int:
        return sum(1 for _ in batch_bounds(self.n, self.batch_size, self.drop_last))


def _libc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_MALLOC_TRIM = _libc_trim()


def release_free_heap() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``; elsewhere nothing).

    The previous batch's float copies are freed, but glibc keeps them for reuse (its mmap threshold rises
    to the batch size, and ``rblock.device.tune_cpu_allocator`` raises the trim threshold to 1 GiB): on the
    CPU a streamed epoch of 2,000 images at 128 px then held 436 MB for 12.6 MB batches; trimming before
    each batch held 137 MB, at no measurable cost next to decoding.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def freeze_before_fork() -> None:
    """Move every Python object of this process out of the garbage collector's sight before loaders fork.

    A forked loader process shares the parent's pages until it writes them, and a collection in the child
    writes the header of every object it visits: without this, each loader copies the parent's whole Python
    heap (torch, sklearn, ...; 80-300 MB measured here) and the budget goes to copies, not images.
    """
    gc.collect()
    gc.freeze()


def normalise_on_device(xb: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """A batch of uint8 (or unit float) images as normalised float32, computed where ``xb`` is."""
    x = xb.to(torch.float32)
    if xb.dtype == torch.uint8:
        x = x.div_(255.0)
    return x.sub_(mean).div_(std)


class StreamedBatches(EpochBatches):
    """``TensorBatches`` for a ``StreamingSplit``'s split: the same arguments, order and augmentation.

    Args:
        data: the split; its images, labels, shape, normalisation, byte budget, crop padding and flip are used.
        train: the train split (``data.train``) or the test split (``data.test``).
        workers: loader processes (default ``default_loader_workers()``, cut to fit ``data.budget``).
        Others: as ``TensorBatches``.
    """

    def __init__(
        self,
        data: StreamingSplit,
        batch_size: int,
        *,
        train: bool,
        shuffle: bool,
        workers: int | None = None,
        **options: Unpack[BatchOptions],
    ) -> None:
        source, y = (data.train, data.train_y) if train else (data.test, data.test_y)
        options = {"crop_padding": data.crop_padding, "flip": data.flip, **options}
        super().__init__(int(y.shape[0]), data.shape, batch_size, shuffle=shuffle, **options)
        most = default_loader_workers() if workers is None else workers
        on_cpu = self.device.type == "cpu"
        self.workers = workers_within(data.budget, data.sample_bytes, batch_size, max(1, most), host_floats=on_cpu)
        self.y = y.to(self.device)
        self.mean = torch.tensor(data.mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(data.std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._positions = _Positions(self.num_samples, batch_size, self.drop_last)
        self.loader: DataLoader[Tensor] = DataLoader(
            source,
            batch_sampler=self._positions,
            num_workers=self.workers,
            persistent_workers=True,
            prefetch_factor=PREFETCH,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=_one_thread,
            # Its own generator: a loader without one draws its workers' base seed from the global RNG at every
            # epoch, which would shift the drop masks and make a streamed run differ from the same run in memory.
            generator=torch.Generator(),
        )

    def _batches(self, draw: EpochDraw) -> Iterator[tuple[Tensor, Tensor]]:
        self._positions.order = draw.order  # read by the loader when the epoch's iterator starts
        freeze_before_fork()
        on_device = draw.to(self.device)
        bounds = batch_bounds(self.num_samples, self.batch_size, self.drop_last)
        for (start, end), xb in zip(bounds, self.loader, strict=True):
            if self.device.type == "cpu":
                release_free_heap()
            x = normalise_on_device(xb.to(self.device, non_blocking=True), self.mean, self.std)
            x = augment_batch(x, on_device, start, end, self.crop_padding, self.padding_mode)
            yield x, self.y.index_select(0, on_device.order[start:end])


def streamed_batches(data: StreamingSplit, batch_size: int, *, train: bool, **kwargs: Any) -> StreamedBatches:
    """The train (``train=True``) or test batches of ``data``; ``kwargs`` as ``StreamedBatches``."""
    return StreamedBatches(data, batch_size, train=train, **kwargs)


def sampled_stats(source: Dataset[Tensor], data_seed: int, budget: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of at most ``STATS_SAMPLE`` images of ``source`` (all when it holds fewer)."""
    n = len(source)  # type: ignore[arg-type]  # every Dataset here has a length
    if n > STATS_SAMPLE:
        gen = torch.Generator().manual_seed(derive_seed(data_seed, STREAM_SUBSET, 2))
        picked = torch.randperm(n, generator=gen)[:STATS_SAMPLE].sort().values
    else:
        picked = torch.arange(n)
    sample = source[0]
    batch = 64
    while batch > 1 and streaming_bytes(sample.numel(), batch, 1, PREFETCH, host_floats=True) > budget:
        batch //= 2  # a small budget reads the sample in smaller batches
    loader: DataLoader[Tensor] = DataLoader(
        torch.utils.data.Subset(source, picked.tolist()),
        batch_size=batch,
        num_workers=workers_within(budget, sample.numel(), batch, default_loader_workers(), host_floats=True),
        worker_init_fn=_one_thread,
        generator=torch.Generator(),  # leaves the global RNG alone (see StreamedBatches)
    )
    freeze_before_fork()
    total = torch.zeros(sample.shape[0], dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    for xb in loader:
        x = normalise_on_device(xb, torch.zeros(1), torch.ones(1)).to(torch.float64)
        total += x.sum(dim=(0, 2, 3))
        squares += x.square().sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().to(torch.float32).clamp_min(MIN_STD)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
