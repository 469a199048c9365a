"""Paired masks for two-pass objectives (R-Drop, R-Block).

R-Drop (Liang et al., NeurIPS 2021, arXiv 2106.14448) and R-Block (Wang & Hu, arXiv 2307.15150) pass every
sample through the network twice and make the two outputs agree. We run both passes as one batch of
2B rows, as ``model(cat([x, x]))`` would: rows ``[0, B)`` are the first sub-model and rows ``[B, 2B)`` the
second. (``Regularizer.loss`` calls the model on ``x`` itself and its first drop site duplicates the
batch, :mod:`rblock.shared_trunk`, which gives the same numbers at the cost of one trunk.) Inside
:func:`paired_forward`, every drop layer of this package that sees an even batch draws the masks of the
two halves together, by one of these rules:

* ``"independent"``: i.i.d. masks, as R-Drop.
* ``"disjoint"``: no unit is dropped in both halves; each half alone drops the target rate.
* ``"complementary"``: every unit is kept by exactly one half (needs a constant drop rate of 0.5).

The R-Block paper's text was not available to us; its abstract calls the sub-models "difference
maximizing", so the rule is a setting a pilot can compare (DESIGN §2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Final, Literal

Pairing = Literal["independent", "disjoint", "complementary"]
PAIRINGS: Final[tuple[str, ...]] = ("independent", "disjoint", "complementary")

# The largest target rate at which a disjoint second mask can still reach the target: for channels and
# elements the second mask can only drop what the first kept (p ≤ 1 - p); for spatial blocks the
# second mask's seeds must keep a whole block away from the first mask's blocks, which leaves too little
# room above about 0.3.
DISJOINT_LIMIT_UNITS: Final[float] = 0.5
DISJOINT_LIMIT_BLOCKS: Final[float] = 0.3
COMPLEMENTARY_RATE: Final[float] = 0.5

_active_pairing: ContextVar[str | None] = ContextVar("rblock_active_pairing", default=None)


def check_pairing(pairing: str) -> str:
    """Return ``pairing`` if it is a known rule, else raise ``ValueError`` listing the known ones."""
    if pairing not in PAIRINGS:
        raise ValueError(f"unknown pairing {pairing!r}: use one of {', '.join(PAIRINGS)}")
    return pairing


def check_pairing_rate(pairing: str, drop_prob: float, *, spatial_blocks: bool, constant: bool = True) -> None:
    """Raise ``ValueError`` when ``drop_prob`` (or a ramped schedule) cannot be paired by ``pairing``.

    Args:
        pairing: One of :data:`PAIRINGS`.
        drop_prob: Target fraction of dropped units of each half.
        spatial_blocks: True for DropBlock-style masks, whose disjoint limit is lower.
        constant: False when the drop rate ramps during training (complementary needs it constant).
    """
    check_pairing(pairing)
    if pairing == "complementary":
        if abs(drop_prob - COMPLEMENTARY_RATE) > 1e-9:
            raise ValueError(
                f"pairing 'complementary' keeps every unit in exactly one half, so drop_prob must be 0.5 "
                f"(got {drop_prob})"
            )
        if not constant:
            raise ValueError("pairing 'complementary' needs schedule='constant': a ramped rate cannot stay at 0.5")
    elif pairing == "disjoint":
        limit = DISJOINT_LIMIT_BLOCKS if spatial_blocks else DISJOINT_LIMIT_UNITS
        if drop_prob > limit + 1e-9:
            kind = "spatial blocks" if spatial_blocks else "channels and elements"
            raise ValueError(
                f"pairing 'disjoint' needs drop_prob <= {limit} for {kind} (got {drop_prob}): a second mask "
                f"that avoids the first cannot reach a higher rate"
            )


@contextlib.contextmanager
def paired_forward(pairing: str) -> Iterator[None]:
    """Within this context, drop layers treat an even batch ``2B`` as two sub-models of ``B`` samples.

    Example::

        with paired_forward("disjoint"):
            logits = model(torch.cat([x, x]))
    """
    token = _active_pairing.set(check_pairing(pairing))
    try:
        yield
    finally:
        _active_pairing.reset(token)


def active_pairing() -> str | None:
    """The pairing rule of the enclosing :func:`paired_forward`, or None outside one."""
    return _active_pairing.get()
