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

Which rates each rule can realise is ``pilot_spec.pairing``'s (the API checks the same rules).

The R-Block paper's text was not available to us; its abstract calls the sub-models "difference
maximizing", so the rule is a setting a pilot can compare (docs/design.md §2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal

from pilot_spec.pairing import PAIRINGS, pairing_problems

__all__ = ["PAIRINGS", "Pairing", "active_pairing", "check_pairing", "check_pairing_rate", "paired_forward"]

Pairing = Literal["independent", "disjoint", "complementary"]

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
    schedule = "constant" if constant else "linear"
    for problem in pairing_problems(pairing, drop_prob, spatial_blocks=spatial_blocks, schedule=schedule):
        raise ValueError(problem.message)


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
