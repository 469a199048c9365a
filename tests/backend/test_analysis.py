"""Analysis: statistics against scipy, bootstrap determinism, ROI and verdicts by hand, warnings, summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from backend.analysis import stats
from backend.analysis.results import arm_results, churn, compare, pareto_front
from backend.analysis.roi import compute_roi
from backend.analysis.summary import build_summary
from backend.analysis.warnings import comparability_warnings
from backend.store.entities import Arm, MetricPoint, Pilot, Run, RunStatus

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _run(run_id: int, arm: str, seed: int, acc: float | None, *, status: RunStatus = RunStatus.SUCCEEDED,
         hours: float = 0.01, device: str = "cpu", predictions: list[int] | None = None,
         extra: dict[str, Any] | None = None) -> Run:  # fmt: skip
    metrics = None if acc is None else {"test_acc": acc, "ece": 0.02, "flip_rate": 0.01, **(extra or {})}
    return Run(
        id=run_id, pilot_id=1, arm_id=1, arm=arm, seed=seed, status=status, attempts=1, queue="cpu", config={},
        epochs_total=3, epochs_done=3, queued_at=NOW, started_at=NOW, finished_at=NOW, heartbeat_at=NOW,
        worker_host="h", device=device, cancel_requested=False, error=None,
        cost={"device_hours": hours, "device_kind": device, "device_name": device, "samples_per_second": 100.0},
        final_metrics=metrics, predictions=predictions or [0, 1, 2, 3],
    )  # fmt: skip


def _pilot(arms: dict[str, dict[str, Any]], roi: dict[str, Any] | None = None, baseline: str = "none") -> Pilot:
    return Pilot(
        id=1, name="p", description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={}, seeds=[0, 1, 2], baseline_arm=baseline, roi=roi or {}, budget_cap=None, queue="cpu",
        created_by=None, created_at=NOW, updated_at=NOW,
        arms=[Arm(i, 1, name, name, params) for i, (name, params) in enumerate(arms.items())],
    )  # fmt: skip


def test_describe_matches_scipy() -> None:
    x = [0.91, 0.93, 0.92, 0.95]
    d = stats.describe(x)
    low, high = sps.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sps.sem(x))
    assert d.n == 4 and d.mean == pytest.approx(np.mean(x)) and d.std == pytest.approx(np.std(x, ddof=1))
    assert (d.ci_low, d.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert stats.describe([0.9]).ci_low is None and stats.describe([]).mean is None


def test_tests_match_scipy_and_holm_by_hand() -> None:
    a, b = [0.95, 0.96, 0.94, 0.97], [0.92, 0.93, 0.925, 0.94]
    assert stats.welch_p(a, b) == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)
    assert stats.paired_p(a, b) == pytest.approx(sps.ttest_rel(a, b).pvalue)
    # Holm on (0.01, 0.04, 0.03): sorted 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert stats.holm([0.01, 0.04, 0.03, None]) == [pytest.approx(0.03), pytest.approx(0.06), pytest.approx(0.06), None]
    d = stats.cohens_d(a, b)
    pooled = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    assert d == pytest.approx((np.mean(a) - np.mean(b)) / pooled)


def test_bootstrap_is_deterministic_by_seed_and_brackets_the_difference() -> None:
    a, b = [0.95, 0.96, 0.94, 0.97, 0.955], [0.92, 0.93, 0.925, 0.94, 0.93]
    first = stats.bootstrap_diff_ci(a, b, paired=False, seed=3)
    assert first == stats.bootstrap_diff_ci(a, b, paired=False, seed=3)
    assert first != stats.bootstrap_diff_ci(a, b, paired=False, seed=4)
    assert first is not None and first[0] < np.mean(a) - np.mean(b) < first[1]
    assert stats.bootstrap_diff_ci([0.9], b, paired=False) is None


def test_seed_planner_reaches_80_percent_power() -> None:
    n = stats.seeds_needed(0.01, 0.01, 0.01)  # effect size 1: the textbook answer is 17 per group
    assert n == 17
    assert stats.seeds_needed(0.0, 0.01, 0.01) is None
    assert stats.seeds_needed(0.05, 0.01, 0.01) is not None and stats.seeds_needed(0.05, 0.01, 0.01) < 5  # type: ignore[operator]


def test_roi_by_hand() -> None:
    roi = compute_roi(
        arm="rblock_s", delta_acc=0.01, delta_acc_ci=(0.004, 0.016), delta_churn=0.002,
        extra_device_hours_per_training=2.0, price_per_device_hour=3.0,
        inputs={"predictions_per_year": 1e6, "cost_per_error": 0.5, "cost_per_changed_prediction": 0.1,
                "retrains_per_year": 10},
        seeds_needed=5, seeds_now=3,
    )  # fmt: skip
    # benefit = 0.01*1e6*0.5 + 0.002*1e6*0.1 = 5000 + 200; extra = 2*3*10 = 60
    assert roi.benefit_per_year.value == pytest.approx(5200)
    assert roi.extra_cost_per_year == pytest.approx(60)
    assert roi.net_per_year.value == pytest.approx(5140)
    assert roi.net_per_year.low == pytest.approx(0.004 * 5e5 + 200 - 60)
    assert roi.roi.value == pytest.approx(5140 / 60)
    assert roi.break_even_predictions_per_year == pytest.approx(60 / (0.01 * 0.5 + 0.002 * 0.1))
    assert roi.payback_days == pytest.approx(6 / (5200 / 365))
    assert roi.cost_per_accuracy_point == pytest.approx(6.0)
    assert roi.verdict == "adopt"


@pytest.mark.parametrize(
    ("delta", "ci", "extra_hours", "verdict", "reason"),
    [
        (-0.01, (-0.02, -0.005), 1.0, "reject", "upper bound"),
        (0.001, (-0.01, 0.012), 1.0, "inconclusive", "more seeds"),
        (0.0, (0.0, 0.0), 1.0, "reject", "upper bound"),
        (0.01, None, 1.0, "inconclusive", "one seed"),
        (0.01, (0.005, 0.015), -0.5, "adopt", "lower bound"),
        (None, None, 0.0, "inconclusive", "no finished runs"),
    ],
)
def test_verdict_edges(
    delta: float | None, ci: tuple[float, float] | None, extra_hours: float, verdict: str, reason: str
) -> None:
    roi = compute_roi(
        arm="x", delta_acc=delta, delta_acc_ci=ci, delta_churn=None, extra_device_hours_per_training=extra_hours,
        price_per_device_hour=2.0, inputs={"predictions_per_year": 1e5, "cost_per_error": 0.1, "retrains_per_year": 4},
        seeds_needed=9, seeds_now=3,
    )  # fmt: skip
    assert roi.verdict == verdict and reason in roi.reason
    if extra_hours <= 0:
        assert roi.roi.value is None  # no extra cost: ROI is unbounded, reported as None


def test_arm_results_comparisons_and_pareto() -> None:
    runs = [_run(i, "none", s, acc, hours=0.01) for i, (s, acc) in enumerate([(0, 0.90), (1, 0.91), (2, 0.92)])]
    runs += [
        _run(10 + s, "rblock_s", s, acc, hours=0.02, predictions=[0, 1, 2, 3])
        for s, acc in [(0, 0.95), (1, 0.96), (2, 0.955)]
    ]
    runs += [_run(20, "dropout", 0, 0.80, hours=0.03), _run(21, "dropout", 1, None, status=RunStatus.FAILED)]
    results = arm_results(runs, {"none": "none", "rblock_s": "rblock_s", "dropout": "dropout"}, {"cpu": 1.0})
    assert results["none"].test_acc.n == 3 and results["rblock_s"].cost == pytest.approx(0.02)
    assert results["dropout"].test_acc.n == 1
    rows = {row.arm: row for row in compare(results, runs, "none")}
    assert rows["rblock_s"].paired_p is not None and rows["rblock_s"].delta_acc == pytest.approx(0.045)
    assert rows["dropout"].note.startswith("one seed")
    assert pareto_front(results) == ["none", "rblock_s"]
    assert churn([[0, 1, 2, 3], [0, 1, 2, 0], [1, 1, 2, 3]]) == pytest.approx((0.25 + 0.25 + 0.5) / 3)


def test_warnings_cover_provisional_failed_devices_seeds_and_drop_rates() -> None:
    runs = [
        _run(1, "dropblock", 0, 0.9, device="cpu"),
        _run(2, "rblock_s", 0, 0.9, device="cuda"),
        _run(3, "rblock_s", 1, 0.9),
        _run(4, "none", 0, None, status=RunStatus.RUNNING),
        _run(5, "none", 1, None, status=RunStatus.FAILED),
    ]
    points = [
        MetricPoint(1, "drop_rate", 3, 0.10),
        MetricPoint(2, "drop_rate", 3, 0.07),
        MetricPoint(3, "drop_rate", 3, 0.07),
    ]
    text = " | ".join(
        comparability_warnings(runs, points, {"dropblock": {"drop_prob": 0.1}, "rblock_s": {"drop_prob": 0.1}})
    )
    for expected in (
        "Provisional",
        "none seed 1 (failed)",
        "different devices",
        "different seeds",
        "realised different rates",
    ):
        assert expected in text


def test_summary_is_json_and_handles_all_failed() -> None:
    pilot = _pilot({"none": {}, "rblock_s": {"drop_prob": 0.1}}, roi={"predictions_per_year": 1e6})
    runs = [_run(1, "none", 0, None, status=RunStatus.FAILED), _run(2, "rblock_s", 0, None, status=RunStatus.FAILED)]
    summary = build_summary(pilot, runs, [], prices={"cpu": 0.1})
    assert summary["roi"][0]["verdict"] == "inconclusive"
    assert any("Every run failed" in w for w in summary["warnings"])
    runs = [_run(i, arm, s, 0.9 + 0.01 * s + (0.02 if arm == "rblock_s" else 0)) for i, (arm, s) in
            enumerate([(a, s) for a in ("none", "rblock_s") for s in range(3)])]  # fmt: skip
    points = [MetricPoint(r.id, "test_acc", e, 0.5 + 0.1 * e) for r in runs for e in (1, 2, 3)]
    summary = build_summary(pilot, runs, points, prices={"cpu": 0.1})
    assert summary["provisional"] is False
    assert summary["comparisons"][0]["delta_acc"] == pytest.approx(0.02)
    assert [p["epoch"] for p in summary["curves"]["none"]["test_acc"]] == [1, 2, 3]


def test_every_metric_is_aggregated_per_arm_and_epoch() -> None:
    pilot = _pilot({"none": {}})
    runs = [_run(i, "none", i, 0.9) for i in range(3)]
    points = [MetricPoint(r.id, key, 1, v) for r, v in zip(runs, (0.1, 0.2, 0.3), strict=True) for key in ("ece", "lr")]
    curves = build_summary(pilot, runs, points, prices={"cpu": 0.1})["curves"]["none"]
    assert set(curves) == {"ece", "lr"}
    point = curves["ece"][0]
    d = stats.describe([0.1, 0.2, 0.3])
    assert point["n"] == 3 and point["mean"] == pytest.approx(0.2)
    assert point["std"] == pytest.approx(d.std) and point["sem"] == pytest.approx(d.sem)
    assert (point["ci_low"], point["ci_high"]) == (pytest.approx(d.ci_low), pytest.approx(d.ci_high))
