"""Channel-level dropping: SpatialDropout and channel groups (the sub-models of R-Block's BDropDML).

* SpatialDropout (Tompson et al., CVPR 2015, arXiv 1411.4280) zeroes whole feature maps, as
  ``torch.nn.Dropout2d`` does.
* Channel-group dropping zeroes whole groups of ``C / groups`` consecutive channels per sample (groups as in
  GroupNorm); R-Block's BDropDML builds its sub-models this way (arXiv 2307.15150). ``groups == C`` is
  SpatialDropout.
"""

from __future__ import annotations

from torch import Tensor

from rblock.drop_layer import DropLayer, check_drop_prob
from rblock.unit_masks import unit_multiplier


def _check_groups(channels: int, groups: int) -> None:
    if groups < 1 or channels % groups != 0:
        raise ValueError(f"groups must divide the number of channels: {channels} channels, groups={groups}")


def _channel_group_drop(x: Tensor, drop_prob: float, groups: int, pairing: str | None) -> tuple[Tensor, Tensor]:
    if x.dim() != 4:
        raise ValueError(f"expected a 4-D input (B, C, H, W), got shape {tuple(x.shape)}")
    b, c = x.shape[:2]
    _check_groups(c, groups)
    mult, fraction = unit_multiplier((b, groups), drop_prob, pairing, x)
    # (B, G) -> (B, G, C/G) -> (B, C, 1, 1): every channel of a group shares its group's draw.
    mult = mult.to(x.dtype)[:, :, None].expand(b, groups, c // groups).reshape(b, c, 1, 1)
    return x * mult, fraction


def channel_group_drop_2d(x: Tensor, drop_prob: float, groups: int, pairing: str | None = None) -> Tensor:
    """Drop whole groups of channels per sample.

    Args:
        x: Input of shape (B, C, H, W); C must be divisible by ``groups``.
        drop_prob: Fraction of groups to drop, in [0, 1).
        groups: Number of channel groups; a group is ``C / groups`` consecutive channels.
        pairing: Optional pairing rule for a batch of two halves (see :mod:`rblock.pairing`).

    Returns:
        Tensor of shape (B, C, H, W): dropped groups zeroed, kept ones scaled by 1 / (1 - drop_prob).
    """
    drop_prob = check_drop_prob(drop_prob)
    if drop_prob == 0.0:
        _check_groups(x.shape[1], groups)
        return x
    return _channel_group_drop(x, drop_prob, groups, pairing)[0]


def spatial_dropout_2d(x: Tensor, drop_prob: float, pairing: str | None = None) -> Tensor:
    """SpatialDropout: drop whole channels per sample; ``x`` of shape (B, C, H, W)."""
    return channel_group_drop_2d(x, drop_prob, x.shape[1], pairing)


class ChannelGroupDrop2d(DropLayer):
    """Drop whole groups of ``C / groups`` consecutive channels per sample (BDropDML sub-models)."""

    def __init__(self, drop_prob: float, groups: int = 8) -> None:
        super().__init__(drop_prob)
        if int(groups) != groups or groups < 1:
            raise ValueError(f"groups must be a positive integer (got {groups})")
        self.groups = int(groups)

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        return _channel_group_drop(x, drop_prob, self.groups, pairing)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}, groups={self.groups}"


class SpatialDropout2d(DropLayer):
    """SpatialDropout (``nn.Dropout2d`` semantics): drop whole channels per sample."""

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        return _channel_group_drop(x, drop_prob, x.shape[1], pairing)
