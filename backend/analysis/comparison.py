"""Each arm against the baseline: Δaccuracy and Δchurn with calibrated intervals, their dual tests, Holm.

The interval of Δaccuracy speaks of accuracy on the population the test set was drawn from: its seed part
(paired t on matched seeds, else Welch) plus the finite test set's part (per-example pairing), see
``backend.analysis.variance``. The p-value beside it is the t test of the same statistic (``stats`` module
docstring: p < 1 − confidence exactly when the interval excludes 0); Holm adjusts those p-values across
arms as a family-wise column. The seed planner uses the same model.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from backend.analysis import stats
from backend.analysis.results import churn as seed_churn
from backend.analysis.samples import ArmSamples, RunSet, arm_samples, contrast
from backend.analysis.variance import Contrast
from backend.store.entities import Run
from pilot_spec.analysis import Comparison


def compare(
    runs: Sequence[Run], arms: Sequence[str], baseline: str, *, confidence: float = stats.CONFIDENCE
) -> tuple[list[Comparison], dict[str, Contrast]]:
    """Every arm of ``arms`` but the baseline against it, Holm-corrected across arms; with each arm's
    :class:`Contrast`, from which the ROI builds the interval of its net benefit."""
    by_arm: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_arm[run.arm].append(run)
    base = RunSet.of(by_arm.get(baseline, []))
    rows, contrasts = [], {}
    for arm in arms:
        if arm == baseline:
            continue
        row, contrasts[arm] = _compare_arm(arm, baseline, RunSet.of(by_arm.get(arm, [])), base, confidence)
        rows.append(row)
    adjusted = stats.holm([row.p_value for row in rows])
    return [row.model_copy(update={"p_holm": p}) for row, p in zip(rows, adjusted, strict=True)], contrasts


@functools.lru_cache(maxsize=256)
def _compare_arm(
    arm: str, baseline: str, mine_runs: RunSet, base_runs: RunSet, confidence: float
) -> tuple[Comparison, Contrast]:
    """Memoised on the runs' identities (a pure function of them): the seed planner's noncentral t and the
    arrays cost milliseconds per arm, and every view of a finished pilot asks for the same numbers again."""
    mine, base = arm_samples(mine_runs.runs), arm_samples(base_runs.runs)
    a, b = list(mine.accuracies), list(base.accuracies)
    pair, label_note = contrast(mine, base)
    note = ""
    if not a or not b:
        note = "no finished runs on one side"
    elif len(a) < 2 or len(b) < 2:
        note = "one seed: no confidence interval or test"
    acc = pair.parts(1.0, 0.0)
    if acc is not None and label_note:
        note = label_note
    churn = pair.parts(0.0, 1.0)
    delta_churn = churn.estimate if churn is not None else _churn_difference(mine, base)
    plan = stats.SeedPlan(None) if acc is None else stats.seeds_needed(acc, min(len(a), len(b)), confidence=confidence)
    row = Comparison(
        arm=arm,
        baseline=baseline,
        delta_acc=(float(np.mean(a)) - float(np.mean(b))) if a and b else None,
        delta_acc_ci=None if acc is None else acc.interval(confidence, stats.SIGNED_UNIT),
        welch_p=stats.welch_p(a, b),
        paired_p=stats.paired_p(a, b) if pair.paired else None,
        p_value=None if acc is None else acc.p_value(),
        p_holm=None,
        cohens_d=stats.cohens_d(a, b),
        seeds_needed=plan.seeds,
        note=note,
        paired=pair.paired,
        acc_seed_half=None if acc is None else acc.seed_half_width(confidence),
        acc_test_half=None if acc is None else acc.test_half_width(confidence),
        test_examples=None if acc is None or not acc.test_examples else acc.test_examples,
        delta_churn=delta_churn,
        delta_churn_ci=None if churn is None else churn.interval(confidence, stats.SIGNED_UNIT),
        churn_seed_half=None if churn is None else churn.seed_half_width(confidence),
        churn_test_half=None if churn is None else churn.test_half_width(confidence),
        churn_p=None if churn is None else churn.p_value(),
        test_set_limited=plan.test_set_limited,
    )
    return row, pair


def _churn_difference(mine: ArmSamples, base: ArmSamples) -> float | None:
    """Δchurn without an interval (two seeds: one pair, nothing to leave out)."""
    if mine.predictions is None or base.predictions is None:
        return None
    theirs, ours = seed_churn(base.predictions.tolist()), seed_churn(mine.predictions.tolist())
    return None if theirs is None or ours is None else theirs - ours
