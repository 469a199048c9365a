"""Element-wise dropout (Srivastava et al., JMLR 2014) through the same interface as the other drop layers.

R-Drop (arXiv 2106.14448) uses it with two independent masks per sample.
"""

from __future__ import annotations

from torch import Tensor

from rblock.drop_layer import DropLayer, check_drop_prob
from rblock.unit_masks import unit_multiplier


def _element_dropout(x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
    mult, fraction = unit_multiplier(tuple(x.shape), drop_prob, pairing, x)
    return x * mult.to(x.dtype), fraction


def element_dropout(x: Tensor, drop_prob: float, pairing: str | None = None) -> Tensor:
    """Drop single elements of ``x`` (any shape, batch first) and scale the kept ones by 1 / (1 - drop_prob)."""
    drop_prob = check_drop_prob(drop_prob)
    if drop_prob == 0.0:
        return x
    return _element_dropout(x, drop_prob, pairing)[0]


class ElementDropout(DropLayer):
    """Element-wise dropout with a recorded realised rate and paired masks."""

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        return _element_dropout(x, drop_prob, pairing)
