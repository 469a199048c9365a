"""Mini-batches from in-memory tensors, with random crop and flip done batch-wise on the device.

Pilot datasets (up to SVHN's 73k images of 3×32×32, 0.9 GB in float32) fit in GPU memory, so the whole
split moves to the device once and a batch is an ``index_select``: no ``DataLoader`` workers, no per-sample
Python, no host-to-device copy per step. The standard CIFAR augmentation (He et al., "Deep residual learning
for image recognition", CVPR 2016, arXiv 1512.03385: pad 4, random 32×32 crop, random horizontal flip) is
applied to the whole batch at once:

- crop: pad the batch by ``p`` (zeros, i.e. the train mean since the data are normalised, or reflection),
  then gather each sample's H×W window at its own offset in [0, 2p]² by advanced indexing;
- flip: ``torch.where`` between the batch and its mirrored copy with a per-sample mask.

Reproducibility. Epoch ``e`` draws its permutation, crop offsets and flip mask from a CPU ``torch.Generator``
seeded from ``(seed, e)`` only, all up front; so a run resumed at epoch ``e`` sees exactly the batches an
uninterrupted run would, whatever the device (CUDA generators would tie the stream to the device).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypedDict, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor

from rblock.data.seeding import derive_seed

PADDING_MODES = ("zeros", "reflect")


def random_crop(x: Tensor, padding: int, offsets: Tensor, *, padding_mode: str = "zeros") -> Tensor:
    """Crop each sample of a padded batch at its own offset (the batch version of ``RandomCrop(pad=p)``).

    Args:
        x: (B, C, H, W).
        padding: p >= 1 pixels on each side.
        offsets: int64 (B, 2) on ``x``'s device, the (row, column) of each window in the padded image, in
            [0, 2p]; (p, p) is the identity.
        padding_mode: ``"zeros"`` or ``"reflect"`` (reflection needs p < H and p < W).

    Returns:
        (B, C, H, W), a new tensor.
    """
    b, c, h, w = x.shape
    mode = "constant" if padding_mode == "zeros" else "reflect"
    padded = F.pad(x, (padding, padding, padding, padding), mode=mode)
    rows = offsets[:, 0:1] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[:, 1:2] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


def random_flip(x: Tensor, mask: Tensor) -> Tensor:
    """Mirror the samples where ``mask`` is True (horizontal flip).

    Args:
        x: (B, C, H, W).
        mask: bool (B,) on ``x``'s device.

    Returns:
        (B, C, H, W), a new tensor.
    """
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


@dataclass(frozen=True)
class EpochDraw:
    """The random choices of one epoch: the sample order, each position's crop offset and flip."""

    order: Tensor
    offsets: Tensor | None
    flips: Tensor | None

    def to(self, device: torch.device) -> EpochDraw:
        return EpochDraw(
            self.order.to(device),
            None if self.offsets is None else self.offsets.to(device),
            None if self.flips is None else self.flips.to(device),
        )


def draw_epoch(n: int, seed: int, epoch: int, shuffle: bool, crop_padding: int, flip: bool) -> EpochDraw:
    """Epoch ``epoch``'s order, crop offsets and flips for ``n`` samples, from ``(seed, epoch)`` only.

    Shared by the in-memory and the streamed batches, so both give the same batches for one seed.
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    gen = torch.Generator().manual_seed(derive_seed(seed, epoch))
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    # Drawn up front in a fixed order, so the stream does not depend on the batch size or the device.
    offsets = torch.randint(0, 2 * crop_padding + 1, (n, 2), generator=gen) if crop_padding else None
    flips = torch.rand(n, generator=gen) < 0.5 if flip else None
    return EpochDraw(order, offsets, flips)


def batch_bounds(n: int, batch_size: int, drop_last: bool) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each batch of an epoch, as positions in its order."""
    stop = (n // batch_size) * batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield start, min(start + batch_size, stop)


def augment_batch(xb: Tensor, draw: EpochDraw, start: int, end: int, crop_padding: int, padding_mode: str) -> Tensor:
    """Crop and flip the batch at positions ``[start, end)`` of the epoch as ``draw`` says."""
    if draw.offsets is not None:
        xb = random_crop(xb, crop_padding, draw.offsets[start:end], padding_mode=padding_mode)
    if draw.flips is not None:
        xb = random_flip(xb, draw.flips[start:end])
    return xb


class BatchOptions(TypedDict, total=False):
    """The optional arguments of every kind of batches (their defaults and meaning: ``EpochBatches``,
    ``TensorBatches``), written once so the in-memory and the streamed batches take the same ones."""

    augment: bool
    crop_padding: int
    flip: bool
    seed: int
    device: torch.device | str
    drop_last: bool
    padding_mode: str


class EpochBatches:
    """What the in-memory and the streamed batches share: the arguments, the epoch count, the draws.

    A subclass says how many samples it has and turns one epoch's draw into batches (``_batches``).
    """

    def __init__(
        self,
        num_samples: int,
        image_shape: tuple[int, ...],
        batch_size: int,
        *,
        shuffle: bool,
        augment: bool = False,
        crop_padding: int = 0,
        flip: bool = False,
        seed: int = 0,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
        padding_mode: str = "zeros",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {crop_padding}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if padding_mode == "reflect" and crop_padding >= min(image_shape[1:]):
            raise ValueError(f"reflect padding {crop_padding} needs images larger than {tuple(image_shape[1:])}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.device = torch.device(device)
        self._num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.crop_padding = crop_padding if augment else 0
        self.flip = flip and augment
        self.seed = seed
        self.drop_last = drop_last
        self.padding_mode = padding_mode
        self._next_epoch = 0

    @property
    def num_samples(self) -> int:
        """N, the number of samples."""
        return self._num_samples

    def __len__(self) -> int:
        """Batches per epoch."""
        n = self.num_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        epoch = self._next_epoch
        self._next_epoch += 1
        return self.epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """The epoch that the next ``iter()`` yields."""
        self._next_epoch = epoch

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of one epoch.

        Args:
            epoch: >= 0; with the seed, it alone determines the order, crops and flips.

        Returns:
            An iterator of ``(x, y)``: x (B, C, H, W) float, y (B,), both on ``device``; B is ``batch_size``
            except for the last batch when not ``drop_last``.
        """
        draw = draw_epoch(self.num_samples, self.seed, epoch, self.shuffle, self.crop_padding, self.flip)
        return self._batches(draw)

    def _batches(self, draw: EpochDraw) -> Iterator[tuple[Tensor, Tensor]]:
        raise NotImplementedError


class TensorBatches(EpochBatches):
    """Iterable of ``(x, y)`` batches of in-memory tensors; order and augmentation depend on (seed, epoch) only.

    Args:
        x: (N, C, H, W) floating images (already normalised).
        y: (N,) labels.
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        shuffle: draw a new order every epoch; False keeps the stored order (evaluation).
        augment: apply random crop (when ``crop_padding`` > 0) and flip (when ``flip``).
        crop_padding: p of the random crop.
        flip: random horizontal flip with probability 1/2.
        seed: the run's seed; epoch ``e`` uses a stream derived from ``(seed, e)``.
        device: where x and y live from now on (copied once here).
        drop_last: drop the last incomplete batch (keeps BatchNorm statistics away from tiny batches).
        padding_mode: ``"zeros"`` (the train mean, since the data are normalised) or ``"reflect"``.

    Iterating the object itself yields the batches of epoch 0, then 1, … at each new ``iter()`` (as
    ``DistributedSampler.set_epoch`` does by hand); a training loop that resumes should call
    ``epoch(e)`` with the epoch number instead.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        **options: Unpack[BatchOptions],
    ) -> None:
        if x.dim() != 4 or y.dim() != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"x must be (N, C, H, W) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
        super().__init__(int(x.shape[0]), tuple(x.shape[1:]), batch_size, shuffle=shuffle, **options)
        self.x = x.to(self.device)
        self.y = y.to(self.device)

    def _batches(self, draw: EpochDraw) -> Iterator[tuple[Tensor, Tensor]]:
        draw = draw.to(self.device)
        for start, end in batch_bounds(self.num_samples, self.batch_size, self.drop_last):
            idx = draw.order[start:end]
            xb = augment_batch(self.x.index_select(0, idx), draw, start, end, self.crop_padding, self.padding_mode)
            yield xb, self.y.index_select(0, idx)
