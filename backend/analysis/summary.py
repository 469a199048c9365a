"""The whole analysis of one pilot, as one JSON-serialisable object: what the summary endpoint returns."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from backend.analysis.results import arm_results, compare, curves, pareto_front
from backend.analysis.roi import compute_roi
from backend.analysis.warnings import comparability_warnings
from backend.store.entities import ACTIVE_STATUSES, MetricPoint, Pilot, Run


def _price_for(pilot: Pilot, prices: dict[str, float]) -> dict[str, float]:
    override = pilot.roi.get("price_per_device_hour")
    if override is not None:
        return {kind: float(override) for kind in (*prices, "cpu", "cuda")}
    return {"cpu": prices.get("cpu", 0.0), "cuda": prices.get("cuda", 0.0), **prices}


def jsonable(value: Any) -> Any:
    """Dataclasses to dicts; NaN and infinities to None (JSON has neither)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_summary(
    pilot: Pilot,
    runs: Sequence[Run],
    points: Sequence[MetricPoint],
    *,
    prices: dict[str, float],
    curve_keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per-arm results, comparisons with the baseline, ROI and verdicts, Pareto front, warnings, and per arm,
    metric and epoch the seed aggregate (n, mean, std, standard error, 95% t-interval) of every metric
    (``curve_keys`` limits them)."""
    regularizers = {arm.name: arm.regularizer for arm in pilot.arms}
    price_for = _price_for(pilot, prices)
    results = arm_results(runs, regularizers, price_for)
    comparisons = compare(results, runs, pilot.baseline_arm, seed=pilot.id)
    base = results.get(pilot.baseline_arm)
    rois = []
    for row in comparisons:
        mine = results[row.arm]
        delta_churn = None
        if base is not None and base.seed_churn is not None and mine.seed_churn is not None:
            delta_churn = base.seed_churn - mine.seed_churn
        extra_hours = (mine.device_hours.mean or 0.0) - ((base.device_hours.mean or 0.0) if base else 0.0)
        kind = (mine.device_kinds or ["cpu"])[0]
        rois.append(
            compute_roi(
                arm=row.arm,
                delta_acc=row.delta_acc,
                delta_acc_ci=row.delta_acc_ci,
                delta_churn=delta_churn,
                extra_device_hours_per_training=extra_hours,
                price_per_device_hour=price_for.get(kind, 0.0),
                inputs=pilot.roi,
                seeds_needed=row.seeds_needed,
                seeds_now=min(mine.test_acc.n, base.test_acc.n if base else 0),
            )
        )
    provisional = any(run.status in ACTIVE_STATUSES for run in runs)
    summary: dict[str, Any] = jsonable(
        {
            "pilot_id": pilot.id,
            "name": pilot.name,
            "baseline_arm": pilot.baseline_arm,
            "provisional": provisional,
            "arms": list(results.values()),
            "comparisons": comparisons,
            "roi": rois,
            "roi_inputs": pilot.roi,
            "pareto_front": pareto_front(results),
            "curves": curves(runs, points, curve_keys).by_arm,
            "warnings": comparability_warnings(runs, points, {a.name: a.params for a in pilot.arms}),
        }
    )
    return summary
