"""Stop when settled: group-sequential looks at a pilot with α-spending, so looking often does not inflate errors.

A sequential pilot (``"sequential": {"max_seeds": M, "round": k}``) runs its seeds k at a time. After each
round, look j of K = ceil(M / k), every comparison is made at confidence 1 − α_j, and the pilot stops once
every non-baseline arm's verdict is settled (adopt or reject), else it is extended by the next round, up
to M seeds.

Why this is valid (decision). The chance that *some* look wrongly excludes a true zero is at most the sum
of the chances at each look (the union, or Bonferroni, bound), whatever the correlation between looks; with
Σ α_j = α that is at most α. It holds for any spending sequence and any number of seeds per look, needs
no assumption about the joint law of the looks, and costs little width against exact group-sequential
boundaries (O'Brien-Fleming) at the few looks a pilot makes. The power family
α_j = α·((j/K)^ρ − ((j−1)/K)^ρ) with ρ = 2 spends little early (at 2 seeds a paired t-interval is wide
anyway) and most at the end: with K = 5, looks at 99.8%, 99.4%, 99.0%, 98.6%, 98.2% confidence.

"Settled" for an arm: its ROI verdict is adopt or reject. Where the ROI inputs are not set, no ROI verdict
is possible, so the accuracy difference decides: settled when its interval excludes zero (the same test at
the same confidence, which is what an adopt/reject rests on).

Pure functions over the analysis (``pilot_spec.analysis.PilotAnalysis``) and the stored state: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pilot_spec.analysis import ArmResult, PilotAnalysis, RoiInputValues, SequentialLook, SequentialSection

ALPHA = 0.05
RHO = 2.0
SETTLED = frozenset({"adopt", "reject"})


def looks_for(max_seeds: int, round_seeds: int) -> int:
    """K: the number of looks (rounds) a sequential pilot of at most ``max_seeds`` seeds can make."""
    return math.ceil(max_seeds / round_seeds)


def alpha_spent(look: int, looks: int, alpha: float = ALPHA, rho: float = RHO) -> float:
    """α_j of the power family: α·((j/K)^ρ − ((j−1)/K)^ρ); they sum to α over j = 1..K."""
    if not 1 <= look <= looks:
        raise ValueError(f"look must be 1..{looks} (got {look})")
    return float(alpha * ((look / looks) ** rho - ((look - 1) / looks) ** rho))


def look_confidence(look: int, looks: int, alpha: float = ALPHA, rho: float = RHO) -> float:
    """The confidence of look ``look`` of ``looks``: 1 − α_j."""
    return 1.0 - alpha_spent(look, looks, alpha, rho)


def sequential_state(max_seeds: int, round_seeds: int) -> dict[str, Any]:
    """What a new sequential pilot stores: its plan, and the looks made so far (none)."""
    return {
        "max_seeds": max_seeds,
        "round": round_seeds,
        "looks": looks_for(max_seeds, round_seeds),
        "alpha": ALPHA,
        "rho": RHO,
        "stopped": False,
        "rule": None,
        "history": [],
    }


def current_look(state: dict[str, Any], seeds: int) -> int:
    """The look the pilot's current seeds are (or will be) judged at: its last look once stopped."""
    if state.get("stopped") and state.get("history"):
        return int(state["history"][-1]["look"])
    return min(int(state["looks"]), max(1, math.ceil(seeds / int(state["round"]))))


def state_confidence(state: dict[str, Any], seeds: int) -> float:
    """The confidence a sequential pilot's summary is computed at, with ``seeds`` seeds so far."""
    return look_confidence(current_look(state, seeds), int(state["looks"]), float(state["alpha"]), float(state["rho"]))


def _priced(inputs: RoiInputValues) -> bool:
    """Whether the ROI inputs allow a verdict at all (``backend.analysis.roi``'s rule)."""
    volume = inputs.get("predictions_per_year") or 0
    return bool(volume) and bool(inputs.get("cost_per_error") or inputs.get("cost_per_changed_prediction"))


def arm_settled(analysis: PilotAnalysis, arm: str) -> bool:
    """Whether ``arm``'s verdict against the baseline is settled (see the module's docstring)."""
    if _priced(analysis.roi_inputs):
        return any(r.arm == arm and r.verdict in SETTLED for r in analysis.roi)
    row = analysis.comparison(arm)
    if row is None or row.delta_acc_ci is None:
        return False
    low, high = row.delta_acc_ci
    return bool(low is not None and high is not None and (low > 0 or high < 0))


def is_settled(analysis: PilotAnalysis) -> bool:
    """Every non-baseline arm settled (and there is at least one to settle)."""
    arms = [r.arm for r in analysis.comparisons]
    return bool(arms) and all(arm_settled(analysis, arm) for arm in arms)


def device_hours_used(arms: Sequence[ArmResult]) -> float:
    """Measured device-hours of the pilot's finished runs (per arm: mean × n)."""
    return sum((arm.device_hours.mean * arm.device_hours.n for arm in arms if arm.device_hours.mean is not None), 0.0)


def device_hours_saved(arms: Sequence[ArmResult], max_seeds: int) -> float | None:
    """Device-hours of the seeds not run, against running all ``max_seeds``: per arm, its measured mean per
    seed × the seeds it did not run. None while an arm has no measured run to take the mean from."""
    saved = 0.0
    for arm in arms:
        mean = arm.device_hours.mean
        if mean is None:
            return None
        saved += mean * max(0, max_seeds - len(arm.seeds))
    return saved


def sequential_section(state: dict[str, Any], analysis: PilotAnalysis, seeds: int) -> SequentialSection:
    """The summary's ``sequential`` block: the plan, this look and its confidence, the rule that stopped the
    pilot, and the device-hours used and saved against running all M seeds."""
    look, looks = current_look(state, seeds), int(state["looks"])
    stopped = bool(state.get("stopped"))
    return SequentialSection(
        max_seeds=int(state["max_seeds"]),
        round=int(state["round"]),
        looks=looks,
        look=look,
        confidence=state_confidence(state, seeds),
        alpha=float(state["alpha"]),
        spending=f"power family, ρ = {float(state['rho']):g}: α_j = α·((j/K)^ρ − ((j−1)/K)^ρ), union bound",
        seeds=seeds,
        stopped=stopped,
        rule=state.get("rule"),
        device_hours_used=device_hours_used(analysis.arms),
        device_hours_saved=device_hours_saved(analysis.arms, int(state["max_seeds"])) if stopped else None,
        history=[SequentialLook.model_validate(entry) for entry in state.get("history") or []],
    )
