"""The base of every drop layer in this package: target rate, schedule, realised rate, pairing.

Each concrete layer implements one mask family (elements, channel groups, spatial blocks) in
``_drop``; this base decides *whether* to drop (training mode, a non-zero rate) and *how the batch is
read* (one batch, or two paired halves inside :func:`rblock.paired_forward`). In a shared-trunk two-pass
step the first drop site also duplicates the batch (:mod:`rblock.shared_trunk`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pilot_spec.arms import DROP_PROB
from rblock.pairing import active_pairing, check_pairing_rate
from rblock.shared_trunk import split_trunk


def check_drop_prob(drop_prob: float) -> float:
    """Return ``drop_prob`` as a float if it lies in [0, 1), else raise ``ValueError``."""
    value = float(drop_prob)
    if (problem := DROP_PROB.check(value)) is not None:
        raise ValueError(f"drop_prob {problem}")
    return value


class DropLayer(nn.Module):
    """A regularizer's drop site.

    Attributes:
        drop_prob: Target fraction of dropped units once the schedule is complete.
        rate_scale: Schedule factor in [0, 1] set by :meth:`rblock.Regularizer.set_progress`; the layer drops
            ``drop_prob * rate_scale``. It is 1 for a layer used on its own.
        constant_schedule: False when a regularizer ramps this layer's rate (pairing checks need to know).
    """

    # DropBlock-style masks have a lower disjoint-pairing limit (see rblock.pairing).
    spatial_blocks: bool = False

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = check_drop_prob(drop_prob)
        self.rate_scale = 1.0
        self.constant_schedule = True
        # A 0-dim tensor, kept on the device: reading it as a float syncs, so only do it when asked.
        self._last_drop_fraction: Tensor | None = None

    @property
    def current_drop_prob(self) -> float:
        """The rate this layer drops now: the target times the schedule factor."""
        return self.drop_prob * self.rate_scale

    @property
    def last_drop_fraction(self) -> float | None:
        """Realised fraction of dropped units in the last training forward (None before the first)."""
        if self._last_drop_fraction is None:
            return None
        return float(self._last_drop_fraction.item())

    def last_drop_fraction_tensor(self) -> Tensor:
        """The last realised fraction as a 0-dim tensor on the layer's device (no sync); 0 before any."""
        if self._last_drop_fraction is None:
            return torch.zeros(())
        return self._last_drop_fraction

    def forward(self, x: Tensor) -> Tensor:
        # The first drop site of a shared-trunk two-pass step duplicates the batch here (rblock.shared_trunk).
        x = split_trunk(x)
        if not self.training:
            return x
        p = self.current_drop_prob
        if p <= 0.0:
            self._last_drop_fraction = torch.zeros((), device=x.device)
            return x
        pairing = active_pairing() if x.shape[0] % 2 == 0 else None
        if pairing is not None:
            check_pairing_rate(pairing, p, spatial_blocks=self.spatial_blocks, constant=self.constant_schedule)
        out, fraction = self._drop(x, p, pairing)
        self._last_drop_fraction = fraction.detach()
        return out

    def _drop(self, x: Tensor, drop_prob: float, pairing: str | None) -> tuple[Tensor, Tensor]:
        """Return the output and the realised dropped fraction (a 0-dim tensor)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"
