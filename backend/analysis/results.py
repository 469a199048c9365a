"""Per-arm results over seeds, the accuracy-cost Pareto front, and curves (against the baseline: ``comparison``)."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from backend.analysis import stats
from backend.analysis.samples import arm_samples
from backend.store.entities import MetricPoint, Run, RunStatus
from pilot_spec.analysis import ArmResult, CurvePoint, Curves
from pilot_spec.metrics import SHARE_METRICS, STABILITY_KEYS, TEST_ACC


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(present)) if present else None


def churn(predictions: Sequence[Sequence[int]]) -> float | None:
    """Mean pairwise share of differing answers between seeds' final predictions."""
    vectors = [np.asarray(p) for p in predictions if p]
    pairs = [(a, b) for a, b in itertools.combinations(vectors, 2) if a.shape == b.shape]
    if not pairs:
        return None
    return float(np.mean([(a != b).mean() for a, b in pairs]))


def _seed_churn(done: Sequence[Run]) -> float | None:
    samples = arm_samples(done)  # memoised arrays, when every run kept its predictions at one length
    if samples.predictions is not None and samples.predictions.shape[0] == len(done):
        n, predictions = len(done), samples.predictions
        if n < 2:
            return None
        differing = sum(int((predictions != predictions[s]).sum()) for s in range(n)) / 2
        return float(differing / (n * (n - 1) / 2) / predictions.shape[1])
    return churn([r.predictions or [] for r in done])


def arm_results(
    runs: Sequence[Run],
    regularizers: dict[str, str],
    price_for: dict[str, float],
    *,
    confidence: float = stats.CONFIDENCE,
) -> dict[str, ArmResult]:
    """Succeeded runs grouped by arm; ``price_for`` maps a device kind (``cpu``, ``cuda``) to money per hour."""
    by_arm: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.status == RunStatus.SUCCEEDED and run.final_metrics is not None:
            by_arm[run.arm].append(run)
    out = {}
    for arm, regularizer in regularizers.items():
        done = sorted(by_arm.get(arm, []), key=lambda r: r.seed)
        accs = [
            float(r.final_metrics[TEST_ACC])
            for r in done
            if r.final_metrics and r.final_metrics.get(TEST_ACC) is not None
        ]
        hours = [float((r.cost or {}).get("device_hours") or 0.0) for r in done]
        kinds = sorted({str((r.cost or {}).get("device_kind") or "cpu") for r in done})
        money = [
            h * price_for.get(str((r.cost or {}).get("device_kind") or "cpu"), 0.0)
            for h, r in zip(hours, done, strict=True)
        ]
        acc = stats.describe(accs, confidence, stats.UNIT)
        out[arm] = ArmResult(
            arm=arm,
            regularizer=regularizer,
            seeds=[r.seed for r in done],
            test_acc=acc,
            error=None if acc.mean is None else 1.0 - acc.mean,
            device_hours=stats.describe(hours, confidence),
            cost=_mean(money),
            samples_per_second=_mean([(r.cost or {}).get("samples_per_second") for r in done]),
            stability={key: _mean([(r.final_metrics or {}).get(key) for r in done]) for key in STABILITY_KEYS},
            seed_churn=_seed_churn(done),
            acc_std=acc.std,
            device_kinds=kinds,
        )
    return out


def pareto_front(results: dict[str, ArmResult]) -> list[str]:
    """Arms no other arm beats on both accuracy (higher) and device-hours (lower), cheapest first."""
    points = {
        arm: (r.device_hours.mean, r.test_acc.mean)
        for arm, r in results.items()
        if r.device_hours.mean is not None and r.test_acc.mean is not None
    }
    front = [
        arm
        for arm, (cost, acc) in points.items()
        if not any(
            (c <= cost and a >= acc) and (c < cost or a > acc) for other, (c, a) in points.items() if other != arm
        )
    ]
    return sorted(front, key=lambda arm: points[arm][0])


def curves(
    runs: Sequence[Run],
    points: Sequence[MetricPoint],
    keys: Sequence[str] | None = None,
    *,
    confidence: float = stats.CONFIDENCE,
) -> Curves:
    """Mean and t-interval over seeds, per arm, metric and epoch (finished and running runs alike, docs/design.md §4);
    the intervals of shares (``SHARE_METRICS``) are cut to [0, 1]."""
    if keys is not None and not keys:
        return {}  # none asked for (the pages' summary): not a pass over every point for nothing
    wanted = None if keys is None else set(keys)
    arm_of = {run.id: run.arm for run in runs if run.status != RunStatus.QUEUED}
    grouped: dict[str, dict[str, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for point in points:
        if wanted is not None and point.key not in wanted:
            continue
        arm = arm_of.get(point.run_id)
        if arm is None or not math.isfinite(point.value):
            continue
        grouped[arm][point.key][point.epoch].append(point.value)
    out: Curves = {}
    for arm, by_key in grouped.items():
        out[arm] = {}
        for key, by_epoch in by_key.items():
            series = []
            for epoch in sorted(by_epoch):
                d = stats.describe(by_epoch[epoch], confidence, stats.UNIT if key in SHARE_METRICS else None)
                series.append(
                    CurvePoint(
                        epoch=epoch, n=d.n, mean=d.mean or 0.0, std=d.std, sem=d.sem, ci_low=d.ci_low, ci_high=d.ci_high
                    )
                )
            out[arm][key] = series
    return out
