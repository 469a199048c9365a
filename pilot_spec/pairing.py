"""How the two passes of R-Drop and R-Block pair their masks, and the rates each rule can realise.

The rules themselves (drawing the masks) are the library's (``rblock.pairing``); which rates and schedules
each rule allows is a fact both the API and the library check, so it is written here once.
"""

from __future__ import annotations

from typing import Final

from pilot_spec.fields import Problem
from pilot_spec.text import show

PAIRINGS: Final[tuple[str, ...]] = ("independent", "disjoint", "complementary")

# The largest target rate at which a disjoint second mask can still reach the target: for channels and
# elements the second mask can only drop what the first kept (p <= 1 - p); for spatial blocks the
# second mask's seeds must keep a whole block away from the first mask's blocks, which leaves too little
# room above about 0.3.
DISJOINT_LIMIT_UNITS: Final[float] = 0.5
DISJOINT_LIMIT_BLOCKS: Final[float] = 0.3
# Complementary masks keep every unit in exactly one pass, so each pass drops exactly half.
COMPLEMENTARY_RATE: Final[float] = 0.5
_TOLERANCE = 1e-9


def pairing_problems(pairing: str, drop_prob: float, *, spatial_blocks: bool, schedule: str) -> list[Problem]:
    """What keeps ``pairing`` from realising ``drop_prob`` under ``schedule``, by parameter name.

    Args:
        pairing: One of :data:`PAIRINGS` (an unknown one is the field check's problem, not this rule's).
        drop_prob: Target fraction of dropped units of each pass.
        spatial_blocks: True for DropBlock-style masks, whose disjoint limit is lower.
        schedule: ``constant``, or a ramp (``linear``), which complementary masks cannot follow.
    """
    problems: list[Problem] = []
    if pairing == "disjoint":
        limit = DISJOINT_LIMIT_BLOCKS if spatial_blocks else DISJOINT_LIMIT_UNITS
        if drop_prob > limit + _TOLERANCE:
            kind = "spatial blocks" if spatial_blocks else "channels and elements"
            problems.append(
                Problem(
                    "drop_prob",
                    f"pairing 'disjoint' on {kind} needs drop_prob <= {limit} (got {drop_prob}): a second mask that "
                    "avoids the first cannot reach a higher rate",
                )
            )
    elif pairing == "complementary":
        if abs(drop_prob - COMPLEMENTARY_RATE) > _TOLERANCE:
            problems.append(
                Problem(
                    "drop_prob",
                    f"pairing 'complementary' keeps each unit in exactly one pass, so drop_prob must be "
                    f"{COMPLEMENTARY_RATE} (got {drop_prob})",
                )
            )
        if schedule != "constant":
            problems.append(
                Problem(
                    "schedule",
                    f"pairing 'complementary' needs schedule 'constant' (got {show(schedule)}): a ramped rate "
                    f"cannot stay at {COMPLEMENTARY_RATE}",
                )
            )
    return problems


def pairing_limits() -> dict[str, float]:
    """The limits above, as the catalog lists them."""
    return {
        "disjoint_units": DISJOINT_LIMIT_UNITS,
        "disjoint_blocks": DISJOINT_LIMIT_BLOCKS,
        "complementary_rate": COMPLEMENTARY_RATE,
    }
