"""Masks over independent units (elements, channels, channel groups), single or paired.

A *unit* is what one Bernoulli draw drops: an element for dropout, a (sample, group) pair for channel
group dropping. The masks are returned as *multipliers*: 0 where a unit is dropped and the scale that
keeps the expected output equal to the input elsewhere.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _keep_draw(shape: tuple[int, ...], keep_prob: float, like: Tensor) -> Tensor:
    # bernoulli_ on a float tensor is one fused op: the mask comes out as 1.0 (keep) / 0.0 (drop).
    return torch.empty(shape, device=like.device, dtype=torch.float32).bernoulli_(keep_prob)


def unit_multiplier(
    shape: tuple[int, ...], drop_prob: float, pairing: str | None, like: Tensor
) -> tuple[Tensor, Tensor]:
    """Draw a dropout multiplier over units.

    Args:
        shape: Unit shape, batch first, e.g. (B, C, H, W) for elements or (B, G) for channel groups.
        drop_prob: Fraction of units to drop, in (0, 1).
        pairing: None or ``"independent"`` for i.i.d. draws; ``"disjoint"`` or ``"complementary"`` to pair
            rows ``[0, B/2)`` with ``[B/2, B)`` (see :mod:`rblock.pairing`).
        like: A tensor whose device the mask goes to.

    Returns:
        (multiplier of ``shape`` in float32, realised dropped fraction as a 0-dim tensor).
    """
    if pairing is None or pairing == "independent":
        keep = _keep_draw(shape, 1.0 - drop_prob, like)
        return keep * (1.0 / (1.0 - drop_prob)), 1.0 - keep.mean()
    half = (shape[0] // 2, *shape[1:])
    keep1 = _keep_draw(half, 1.0 - drop_prob, like)
    if pairing == "complementary":
        # Each unit is kept by exactly one half; at p = 0.5 both halves scale by 2, so their mean is x.
        keep2 = 1.0 - keep1
        mult = torch.cat([keep1, keep2]) * 2.0
        return mult, 1.0 - 0.5 * (keep1.mean() + keep2.mean())
    if pairing != "disjoint":
        raise ValueError(f"unknown pairing {pairing!r}")
    # Disjoint: the second half drops only among the units the first kept, with the rate q = p / (1 - p)
    # that makes its marginal rate p. Conditional on the first mask, a unit kept there is scaled by
    # 1 / (1 - q) and a unit dropped there is never dropped here, so the expected output is the input.
    q = drop_prob / (1.0 - drop_prob)
    keep_among_kept = _keep_draw(half, 1.0 - q, like)
    keep2 = 1.0 - keep1 * (1.0 - keep_among_kept)
    mult2 = torch.where(keep1 > 0, keep_among_kept * (1.0 / (1.0 - q)), torch.ones_like(keep1))
    mult = torch.cat([keep1 * (1.0 / (1.0 - drop_prob)), mult2])
    return mult, 1.0 - 0.5 * (keep1.mean() + keep2.mean())
