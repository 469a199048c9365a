"""The whole analysis of one pilot from its runs and points, as one :class:`PilotAnalysis` (the summary endpoint's
answer); ``backend.analysis.service`` reads them from the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from backend.analysis.comparison import compare
from backend.analysis.results import arm_results, curves, pareto_front
from backend.analysis.roi import compute_roi
from backend.analysis.sentence import verdict_sentence
from backend.analysis.stats import CONFIDENCE
from backend.analysis.warnings import comparability_warnings
from backend.store.entities import ACTIVE_STATUSES, MetricPoint, MetricSeries, Pilot, Run
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.metrics import DROP_RATE
from pilot_spec.money import DEFAULT_CURRENCY, Currency


def _price_for(pilot: Pilot, prices: dict[str, float]) -> dict[str, float]:
    override = pilot.roi.get("price_per_device_hour")
    if override is not None:
        return {kind: float(override) for kind in (*prices, "cpu", "cuda")}
    return {"cpu": prices.get("cpu", 0.0), "cuda": prices.get("cuda", 0.0), **prices}


def summary_points(series: Iterable[MetricSeries], curve_keys: Sequence[str] | None = None) -> list[MetricPoint]:
    """The points :func:`build_summary` reads, from whole series: every point of the curves' metrics (all
    metrics when ``curve_keys`` is None) and, for the comparability warnings, each run's last ``drop_rate``.

    The summary without curves (the pages, the comparison, most figures) thus makes a point per run rather
    than one per epoch: on a pilot of 35 runs x 200 epochs, 7,000 objects fewer, which took more time than
    the whole analysis and, promoted to the collector's oldest generation, triggered a full garbage
    collection (some 80 ms with the app's modules loaded) every dozen or so requests.
    """
    wanted = None if curve_keys is None else set(curve_keys)
    points: list[MetricPoint] = []
    for one in series:
        if wanted is None or one.key in wanted:
            points.extend(
                MetricPoint(one.run_id, one.key, epoch, value)
                for epoch, value in zip(one.epochs, one.floats(), strict=True)
            )
        elif one.key == DROP_RATE and one.epochs:
            last = max(range(len(one.epochs)), key=one.epochs.__getitem__)  # the first of the highest epoch
            points.append(MetricPoint(one.run_id, one.key, one.epochs[last], one.floats()[last]))
    return points


def build_summary(
    pilot: Pilot,
    runs: Sequence[Run],
    points: Sequence[MetricPoint],
    *,
    prices: dict[str, float],
    curve_keys: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
    currency: Currency = DEFAULT_CURRENCY,
) -> PilotAnalysis:
    """Per-arm results, comparisons with the baseline, ROI and verdicts, Pareto front, warnings, and per arm,
    metric and epoch the seed aggregate (n, mean, std, standard error, t-interval) of every metric
    (``curve_keys`` limits them). Every interval and verdict is at ``confidence`` (stated in the summary);
    each verdict's sentence writes its money in ``currency`` (the ``CURRENCY`` setting)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    regularizers = {arm.name: arm.regularizer for arm in pilot.arms}
    price_for = _price_for(pilot, prices)
    results = arm_results(runs, regularizers, price_for, confidence=confidence)
    comparisons, contrasts = compare(runs, list(results), pilot.baseline_arm, confidence=confidence)
    base = results.get(pilot.baseline_arm)
    rois = []
    for row in comparisons:
        mine = results[row.arm]
        extra_hours = (mine.device_hours.mean or 0.0) - ((base.device_hours.mean or 0.0) if base else 0.0)
        kind = (mine.device_kinds or ["cpu"])[0]
        roi = compute_roi(
            arm=row.arm,
            delta_acc=row.delta_acc,
            delta_churn=row.delta_churn,
            contrast=contrasts[row.arm],
            extra_device_hours_per_training=extra_hours,
            price_per_device_hour=price_for.get(kind, 0.0),
            inputs=pilot.roi,
            seeds_now=min(mine.test_acc.n, base.test_acc.n if base else 0),
            confidence=confidence,
        )
        rois.append(roi.model_copy(update={"sentence": verdict_sentence(roi, currency, confidence)}))
    provisional = any(run.status in ACTIVE_STATUSES for run in runs)
    return PilotAnalysis(
        pilot_id=pilot.id,
        name=pilot.name,
        baseline_arm=pilot.baseline_arm,
        provisional=provisional,
        confidence=confidence,
        arms=list(results.values()),
        comparisons=comparisons,
        roi=rois,
        roi_inputs=pilot.roi,
        pareto_front=pareto_front(results),
        curves=curves(runs, points, curve_keys, confidence=confidence),
        warnings=comparability_warnings(runs, points, {a.name: a.params for a in pilot.arms}),
    )
