"""The regularizer arms a pilot can compare, with their parameters (docs/design.md §2).

Each arm's drop layer and loss are the library's (``rblock.regularizer`` builds them by these names); what
an arm is called, how many passes it makes, and which parameters it takes within which bounds is here.
Adding a parameter to an arm is one line in :data:`ARMS`; the API's validation, the catalog and the
library's checks all read it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pilot_spec.fields import Field, Problem
from pilot_spec.pairing import PAIRINGS, pairing_problems
from pilot_spec.tables import by_name

SCHEDULES: tuple[str, ...] = ("linear", "constant")


@dataclass(frozen=True)
class Arm:
    """One arm: its name, a one-line description, its parameters and its passes.

    ``passes`` counts the sub-models each sample goes through (2 for R-Drop and R-Block). It is not a cost
    multiplier: a two-pass step runs its trunk once (``rblock.shared_trunk``), so it costs 1.2-1.5x its
    one-pass twin, not 2x. ``spatial_blocks`` marks DropBlock-style masks, whose disjoint pairing limit is lower.
    """

    name: str
    description: str
    passes: int
    params: Mapping[str, Field] = field(default_factory=dict)
    spatial_blocks: bool = False

    def catalog_entry(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "passes": self.passes,
            "spatial_blocks": self.spatial_blocks,
            "params": {key: param.catalog_entry() for key, param in self.params.items()},
        }


# A drop rate of 1 would drop everything: no sub-model left to train. The drop layers check their rate by it.
DROP_PROB = Field("number", 0.1, "target fraction of dropped units at each drop site", minimum=0, exclusive_maximum=1)


def _drop_prob(default: float) -> Field:
    return replace(DROP_PROB, default=default)


def _pairing(default: str) -> Field:
    return Field("string", default, "how the two passes' masks relate", enum=PAIRINGS)


_SCHEDULE = Field("string", "linear", "'linear' ramps the drop rate from 0 over training", enum=SCHEDULES)
_ALPHA = Field("number", 1.0, "weight of the symmetric KL between the two passes", minimum=0, maximum=100)
_BLOCK_SIZE = Field("integer", 3, "side of the dropped square blocks (clipped to the map)", minimum=1, maximum=64)
_SHARED = Field("boolean", False, "one block mask per sample for all channels")
_GROUPS = Field("integer", 8, "number of channel groups (each C/groups channels)", minimum=1, maximum=4096)

ARMS: dict[str, Arm] = by_name(
    Arm("none", "no regularizer (baseline)", 1),
    Arm("dropout", "element-wise dropout", 1, {"drop_prob": _drop_prob(0.1), "schedule": _SCHEDULE}),
    Arm(
        "spatial_dropout",
        "SpatialDropout: whole channels",
        1,
        {"drop_prob": _drop_prob(0.1), "schedule": _SCHEDULE},
    ),
    Arm(
        "dropblock",
        "DropBlock: contiguous square regions, calibrated rate",
        1,
        {
            "drop_prob": _drop_prob(0.1),
            "block_size": _BLOCK_SIZE,
            "shared_channels": _SHARED,
            "schedule": _SCHEDULE,
            "ramp_fraction": Field(
                "number",
                1.0,
                "with 'linear': the fraction of training over which the drop rate ramps up to drop_prob (then held)",
                exclusive_minimum=0,
                maximum=1,
            ),
        },
        spatial_blocks=True,
    ),
    Arm(
        "rdrop",
        "R-Drop: element-wise dropout, two passes, consistency loss",
        2,
        {"drop_prob": _drop_prob(0.1), "alpha": _ALPHA, "pairing": _pairing("independent"), "schedule": _SCHEDULE},
    ),
    Arm(
        "rblock_b",
        "R-Block BDropDML: sub-models drop whole channel groups",
        2,
        {
            "drop_prob": _drop_prob(0.25),
            "groups": _GROUPS,
            "alpha": _ALPHA,
            "pairing": _pairing("disjoint"),
            "schedule": _SCHEDULE,
        },
    ),
    Arm(
        "rblock_s",
        "R-Block SDropDML: sub-models drop contiguous spatial blocks",
        2,
        {
            "drop_prob": _drop_prob(0.1),
            "block_size": _BLOCK_SIZE,
            "shared_channels": _SHARED,
            "alpha": _ALPHA,
            "pairing": _pairing("disjoint"),
            "schedule": _SCHEDULE,
        },
        spatial_blocks=True,
    ),
)


def arm_rule_problems(arm: Arm, params: Mapping[str, Any]) -> list[Problem]:
    """The rules across an arm's (individually valid, complete) parameters: today its pairing's rates."""
    if "pairing" not in params:
        return []
    return pairing_problems(
        params["pairing"], params["drop_prob"], spatial_blocks=arm.spatial_blocks, schedule=params["schedule"]
    )
