"""DropBlock with a calibrated drop rate, single or paired (R-Block's SDropDML sub-models).

DropBlock: Ghiasi, Lin & Le, "DropBlock: A regularization method for convolutional networks", NeurIPS 2018,
arXiv 1810.12890. Seeds are drawn only where a whole ``block_size``² block fits inside the map (as the TF
reference and torchvision do); each seed zeroes its block.

Calibration. The paper's seed rate ``gamma = p / bs² · HW / (H-bs+1)(W-bs+1)`` ignores block overlap and
under-drops (torchvision realises about 0.94·p at p = 0.1 and 0.89·p at p = 0.2); placing seeds anywhere
with the same gamma over-drops on small maps (timm ≥ 1.0.23: 0.25 for p = 0.1 on an 8×8 map, block 5).
Here a unit ``u`` covered by ``n(u)`` seed positions stays with probability ``(1 - gamma)^n(u)``, so the
expected dropped fraction is ``mean_u 1 - (1 - gamma)^n(u)``; we solve that for gamma once per shape and
rate (cached). Kept units are scaled by ``1 / (1 - gamma)^n(u)``, which makes the expected output equal to
the input unit by unit (a border unit is dropped less often than a central one).

Sampling. Seeds are sparse (gamma is a few per cent), so instead of drawing one random number per position
and max-pooling the whole map (torchvision), large batches draw the seed *positions*: ``M`` uniform draws
with replacement over the ``N`` positions leave each position unseeded with probability ``(1 - 1/N)^M``,
which is ``1 - gamma`` for ``M = log(1 - gamma) / log(1 - 1/N)`` (the fractional part is one extra draw
accepted with the matching probability). Every position then has exactly the Bernoulli(gamma) marginal.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from rblock.drop_layer import DropLayer, check_drop_prob

# Below this many seed positions, or above this seed rate, a dense draw is as cheap as the sparse one.
_SPARSE_MIN_POSITIONS = 4096
_SPARSE_MAX_GAMMA = 0.2
_BISECTION_STEPS = 60


def _coverage(h: int, w: int, block_size: int) -> np.ndarray:
    """n(u): how many valid seed positions' blocks cover each unit, shape (H, W)."""
    hs, ws = h - block_size + 1, w - block_size + 1
    rows = np.minimum(np.arange(h) + 1, block_size) - np.maximum(np.arange(h) - hs + 1, 0)
    cols = np.minimum(np.arange(w) + 1, block_size) - np.maximum(np.arange(w) - ws + 1, 0)
    return np.outer(rows, cols)


@functools.lru_cache(maxsize=8192)
def _calibrate(h: int, w: int, block_size: int, drop_prob: float) -> tuple[float, Tensor]:
    """Seed rate gamma whose expected dropped fraction is ``drop_prob``, and the per-unit scale (H, W)."""
    counts, weights = np.unique(_coverage(h, w, block_size), return_counts=True)
    weights = weights / weights.sum()
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        gamma = 0.5 * (lo + hi)
        dropped = float(np.sum(weights * (1.0 - (1.0 - gamma) ** counts)))
        lo, hi = (gamma, hi) if dropped < drop_prob else (lo, gamma)
    gamma = 0.5 * (lo + hi)
    keep_prob = (1.0 - gamma) ** _coverage(h, w, block_size)
    return gamma, torch.from_numpy(1.0 / keep_prob).float()


_scale_on_device: dict[tuple[int, int, int, float, torch.device], Tensor] = {}


def _scale_map(h: int, w: int, block_size: int, drop_prob: float, device: torch.device) -> tuple[float, Tensor]:
    gamma, scale = _calibrate(h, w, block_size, drop_prob)
    key = (h, w, block_size, drop_prob, device)
    cached = _scale_on_device.get(key)
    if cached is None:
        if len(_scale_on_device) > 8192:  # a linear ramp visits many rates; keep the cache bounded
            _scale_on_device.clear()
        cached = _scale_on_device[key] = scale.to(device)
    return gamma, cached


def _expand_positions(pos: Tensor, n_maps: int, h: int, w: int, block_size: int) -> Tensor:
    """Seed positions (flat indices into the (n_maps, Hs, Ws) seed grid) -> dropped units (n_maps, H, W).

    Writing the blocks' indices costs O(seeds · block²), far less than max-pooling a dense seed map. A
    position equal to the grid size N is an ignored draw: its block lands in a spare slot past the end.
    """
    device = pos.device
    hs, ws = h - block_size + 1, w - block_size + 1
    maps, rest = pos // (hs * ws), pos % (hs * ws)
    top_left = maps * (h * w) + (rest // ws) * w + rest % ws  # pos == N maps past the last map
    offsets = (torch.arange(block_size, device=device)[:, None] * w + torch.arange(block_size, device=device)).view(-1)
    index = (top_left[:, None] + offsets).clamp_max(n_maps * h * w)
    dropped = torch.zeros(n_maps * h * w + 1, device=device, dtype=torch.bool)
    dropped[index.view(-1)] = True
    return dropped[:-1].view(n_maps, h, w)


def _seed_positions(n_maps: int, h: int, w: int, block_size: int, gamma: float, device: torch.device) -> Tensor:
    """Flat indices of the seeded positions of the (n_maps, Hs, Ws) grid, each seeded with probability gamma.

    Large sparse grids draw the positions themselves (see the module docstring); small or dense ones draw a
    uniform number per position.
    """
    n = n_maps * (h - block_size + 1) * (w - block_size + 1)
    if n < _SPARSE_MIN_POSITIONS or gamma > _SPARSE_MAX_GAMMA:
        return torch.nonzero(torch.rand(n, device=device) < gamma).squeeze(1)
    draws = math.log1p(-gamma) / math.log1p(-1.0 / n)
    whole = math.floor(draws)
    # The last draw counts with probability `accept` so that P(position unseeded) is exactly 1 - gamma.
    accept = n * (1.0 - (1.0 - gamma) * (1.0 - 1.0 / n) ** (-whole))
    pos = torch.randint(0, n, (whole + 1,), device=device)
    pos[-1] = torch.where(torch.rand((), device=device) < accept, pos[-1], torch.full_like(pos[-1], n))
    return pos


def _block_drop_positions(n_maps: int, h: int, w: int, block_size: int, gamma: float, device: torch.device) -> Tensor:
    """Seed positions like :func:`_seed_positions`, with the possible ignored draw (index N) removed."""
    pos = _seed_positions(n_maps, h, w, block_size, gamma, device)
    n = n_maps * (h - block_size + 1) * (w - block_size + 1)
    return pos[pos < n]


def _block_drop(n_maps: int, h: int, w: int, block_size: int, gamma: float, device: torch.device) -> Tensor:
    """Dropped units (n_maps, H, W) as bool, seeds i.i.d. Bernoulli(gamma) on the valid positions."""
    return _expand_positions(_seed_positions(n_maps, h, w, block_size, gamma, device), n_maps, h, w, block_size)


def _disjoint_second(dropped1: Tensor, block_size: int, drop_prob: float) -> tuple[Tensor, Tensor]:
    """A second block mask that never drops a unit ``dropped1`` dropped, at the target rate.

    Its blocks are seeded as usual and cut where they meet the first mask's blocks, so the two drop regions
    never overlap and the second still reaches the target on small maps (where whole blocks that avoid the
    first mask would not fit). A unit outside the first mask is dropped with probability
    ``1 - (1 - g)^n(u)``; one seed rate ``g`` for the batch is solved so that the expected rate over the
    batch is ``drop_prob``, and a kept unit is scaled by ``1 / (1 - g)^n(u)`` (a unit the first mask dropped
    is never dropped here and keeps scale 1), so the expected output is the input unit by unit.

    Returns (dropped2 as bool (M, H, W), per-unit scale (M, H, W)).
    """
    m, h, w = dropped1.shape
    counts = _coverage(h, w, block_size)
    # How many of the M maps left each unit free: one reduction, then a scalar equation on the CPU.
    free = (~dropped1).sum(0).cpu().numpy().astype(np.float64) / (m * h * w)
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        gamma = 0.5 * (lo + hi)
        rate = float(np.sum(free * (1.0 - (1.0 - gamma) ** counts)))
        lo, hi = (gamma, hi) if rate < drop_prob else (lo, gamma)
    gamma = min(0.5 * (lo + hi), 1.0 - 1e-6)
    dropped2 = _block_drop(m, h, w, block_size, gamma, dropped1.device) & ~dropped1
    scale = torch.from_numpy(1.0 / (1.0 - gamma) ** counts).float().to(dropped1.device)
    return dropped2, torch.where(dropped1, 1.0, scale)


def _drop_block(
    x: Tensor, drop_prob: float, block_size: int, shared_channels: bool, pairing: str | None
) -> tuple[Tensor, Tensor]:
    if x.dim() != 4:
        raise ValueError(f"expected a 4-D input (B, C, H, W), got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    bs = min(block_size, h, w)  # a block larger than the map covers the map (as the TF reference)
    per_sample = 1 if shared_channels else c
    gamma, scale = _scale_map(h, w, bs, drop_prob, x.device)
    if pairing is None or pairing == "independent":
        dropped = _block_drop(b * per_sample, h, w, bs, gamma, x.device)
        mult = torch.where(dropped, 0.0, scale)
    else:
        half = b // 2
        dropped1 = _block_drop(half * per_sample, h, w, bs, gamma, x.device)
        if pairing == "complementary":
            # Each unit is kept by exactly one half; both halves scale by 2, so their mean is x itself.
            dropped = torch.cat([dropped1, ~dropped1])
            mult = (~dropped).float() * 2.0
        elif pairing == "disjoint":
            dropped2, scale2 = _disjoint_second(dropped1, bs, drop_prob)
            dropped = torch.cat([dropped1, dropped2])
            mult = torch.cat([torch.where(dropped1, 0.0, scale), torch.where(dropped2, 0.0, scale2)])
        else:
            raise ValueError(f"unknown pairing {pairing!r}")
    fraction = dropped.float().mean()
    return x * mult.view(b, per_sample, h, w).to(x.dtype), fraction


def _check_block_size(block_size: int) -> int:
    if int(block_size) != block_size or block_size < 1:
        raise ValueError(f"block_size must be a positive integer (got {block_size})")
    return int(block_size)


def drop_block_2d(
    x: Tensor, drop_prob: float, block_size: int, shared_channels: bool = False, pairing: str | None = None
) -> Tensor:
    """DropBlock with a calibrated rate.

    Args:
        x: Input of shape (B, C, H, W).
        drop_prob: Expected fraction of dropped units, in [0, 1).
        block_size: Side of the square blocks; clipped to the map size.
        shared_channels: One mask per sample for all channels (else one per sample and channel).
        pairing: Optional pairing rule for a batch of two halves (see :mod:`rblock.pairing`).

    Returns:
        Tensor of shape (B, C, H, W) with dropped blocks zeroed and kept units rescaled.
    """
    drop_prob = check_drop_prob(drop_prob)
    block_size = _check_block_size(block_size)
    if drop_prob == 0.0:
        return x
    return _drop_block(x, drop_prob, block_size, shared_channels, pairing)[0]


class DropBlock2d(DropLayer):
    """DropBlock (arXiv 1810.12890) with a calibrated realised rate; see :func:`drop_block_2d`."""

    spatial_blocks = True

    def __init__(self, drop_prob: float, block_size: int, shared_channels: bool = False) -> None:
        super().__init__(drop_prob)
        self.block_size = _check_block_size(block_size)
        self.shared_channels = bool(shared_channels)

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        return _drop_block(x, drop_prob, self.block_size, self.shared_channels, pairing)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}, block_size={self.block_size}, shared_channels={self.shared_channels}"
