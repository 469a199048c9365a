"""Analysis: statistics against scipy, calibrated intervals by hand, ROI and verdicts by hand, warnings, summary.

(Their calibration by simulation is in test_calibration.py.)"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from backend.analysis import stats
from backend.analysis.comparison import compare
from backend.analysis.results import arm_results, churn, pareto_front
from backend.analysis.roi import compute_roi
from backend.analysis.summary import build_summary
from backend.analysis.variance import Contrast, accuracy_statistic, churn_statistic
from backend.analysis.warnings import comparability_warnings
from backend.store.entities import MetricPoint, Run, RunStatus
from tests.support.analysis import make_pilot, make_run


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


def test_difference_ci_is_paired_t_or_welch_by_hand() -> None:
    a, b = [0.95, 0.96, 0.94, 0.97, 0.955], [0.92, 0.93, 0.925, 0.94, 0.93]
    d = np.subtract(a, b)
    half = sps.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert stats.difference_ci(a, b, paired=True) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert stats.difference_parts(a, b, paired=True).p_value() == pytest.approx(sps.ttest_rel(a, b).pvalue)
    # Welch-Satterthwaite in Welch's 1947 form: (va + vb)^2 / (va^2/(na+1) + vb^2/(nb+1)) - 2, within [4, 8].
    va, vb = np.var(a, ddof=1) / 5, np.var(b, ddof=1) / 5
    df = min(max((va + vb) ** 2 / (va**2 / 6 + vb**2 / 6) - 2, 4), 8)
    half = sps.t.ppf(0.9, df) * math.sqrt(va + vb)
    low, high = stats.difference_ci(a, b, paired=False, confidence=0.8)
    assert (low, high) == (pytest.approx(np.mean(a) - np.mean(b) - half), pytest.approx(np.mean(a) - np.mean(b) + half))
    assert stats.difference_ci([0.9], b, paired=False) is None
    # The p-value is the test dual to the interval: p < 0.05 exactly when the 95% interval excludes 0.
    for x, y in ([a, b], [[0.9, 0.92, 0.91], [0.91, 0.9, 0.915]], [[0.5, 0.6], [0.4, 0.45]]):
        for paired in (True, False):
            parts = stats.difference_parts(x, y, paired=paired)
            assert parts is not None
            ci = parts.interval()
            assert (parts.p_value() < 0.05) == (ci[0] > 0 or ci[1] < 0)


def test_seed_planner_reaches_80_percent_power() -> None:
    # Welch parts of two arms of spread 0.01 at 3 seeds: effect size 1, the textbook answer is 17 per group.
    unpaired = stats.difference_parts([0.0, 0.01, 0.02], [0.0, 0.01, 0.02], paired=False)
    assert unpaired is not None
    assert stats.seeds_needed(dataclasses.replace(unpaired, estimate=0.01), 3).seeds == 17
    assert stats.seeds_needed(dataclasses.replace(unpaired, estimate=0.0), 3).seeds is None
    assert (stats.seeds_needed(dataclasses.replace(unpaired, estimate=0.05), 3).seeds or 99) < 5
    # Paired: 0.01 +- 0.01 per seed difference; noncentral t with n - 1 df, found by hand.
    paired = stats.VarianceParts(0.01, 1e-4 / 3, 2)

    def power(n: int) -> float:
        critical = sps.t.ppf(0.975, n - 1)
        return float(sps.nct.sf(critical, n - 1, math.sqrt(n)) + sps.nct.cdf(-critical, n - 1, math.sqrt(n)))

    n = next(n for n in range(2, 100) if power(n) >= 0.8)
    assert stats.seeds_needed(paired, 3).seeds == n == 10
    # The test-set part does not shrink with seeds: a difference it alone hides cannot be planned for.
    limited = stats.seeds_needed(stats.VarianceParts(0.01, 1e-4 / 3, 2, 1e-4, 359, 360), 3)
    assert limited.seeds is None and limited.test_set_limited


def _contrast(arm: list[float], base: list[float], *, paired: bool = True) -> Contrast:
    return Contrast(paired, accuracy_statistic(range(len(arm)), arm), accuracy_statistic(range(len(base)), base))


def test_roi_by_hand() -> None:
    arm, base = [0.96, 0.97, 0.965], [0.95, 0.958, 0.956]
    roi = compute_roi(
        arm="rblock_s", delta_acc=0.01, delta_churn=0.002, contrast=_contrast(arm, base),
        extra_device_hours_per_training=2.0, price_per_device_hour=3.0,
        inputs={"predictions_per_year": 1e6, "cost_per_error": 0.5, "cost_per_changed_prediction": 0.1,
                "retrains_per_year": 10},
        seeds_now=3,
    )  # fmt: skip
    # benefit = 0.01*1e6*0.5 + 0.002*1e6*0.1 = 5000 + 200; extra = 2*3*10 = 60
    assert roi.benefit_per_year.value == pytest.approx(5200)
    assert roi.extra_cost_per_year == pytest.approx(60)
    assert roi.net_per_year.value == pytest.approx(5140)
    # Changed predictions are priced but 3 seeds' churn is not in the contrast: no net interval.
    assert roi.verdict == "inconclusive" and "churn" in roi.reason and roi.net_per_year.low is None
    assert roi.roi.value == pytest.approx(5140 / 60)
    assert roi.break_even_predictions_per_year == pytest.approx(60 / (0.01 * 0.5 + 0.002 * 0.1))
    assert roi.payback_days == pytest.approx(6 / (5200 / 365))
    assert roi.cost_per_accuracy_point == pytest.approx(6.0)
    roi = compute_roi(
        arm="rblock_s", delta_acc=0.01, delta_churn=0.002, contrast=_contrast(arm, base),
        extra_device_hours_per_training=2.0, price_per_device_hour=3.0,
        inputs={"predictions_per_year": 1e6, "cost_per_error": 0.5, "retrains_per_year": 10}, seeds_now=3,
    )  # fmt: skip
    d = np.subtract(arm, base)
    half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3) * 5e5  # the paired t interval, in money
    assert roi.net_per_year.low == pytest.approx(d.mean() * 5e5 - half - 60)
    assert roi.net_per_year.high == pytest.approx(d.mean() * 5e5 + half - 60)
    assert roi.net_seed_half == pytest.approx(half) and roi.net_test_half is None
    assert roi.verdict == "adopt" and roi.more_seeds is None


@pytest.mark.parametrize(
    ("arm", "base", "extra_hours", "verdict", "reason"),
    [
        ([0.90, 0.905, 0.903], [0.92, 0.923, 0.921], 1.0, "reject", "upper bound"),
        ([0.91, 0.93, 0.915], [0.92, 0.915, 0.91], 1.0, "inconclusive", "more seeds per arm"),
        ([0.9, 0.9, 0.9], [0.9, 0.9, 0.9], 1.0, "reject", "upper bound"),
        ([0.9], [0.89], 1.0, "inconclusive", "one seed"),
        ([0.91, 0.915, 0.92], [0.90, 0.902, 0.91], -0.5, "adopt", "lower bound"),
        ([], [], 0.0, "inconclusive", "no finished runs"),
    ],
)
def test_verdict_edges(arm: list[float], base: list[float], extra_hours: float, verdict: str, reason: str) -> None:
    roi = compute_roi(
        arm="x", delta_acc=float(np.mean(arm) - np.mean(base)) if arm else None, delta_churn=None,
        contrast=_contrast(arm, base), extra_device_hours_per_training=extra_hours, price_per_device_hour=2.0,
        inputs={"predictions_per_year": 1e5, "cost_per_error": 0.1, "retrains_per_year": 4}, seeds_now=len(arm),
    )  # fmt: skip
    assert roi.verdict == verdict and reason in roi.reason
    if verdict == "inconclusive" and roi.more_seeds:
        assert f"run {roi.more_seeds} more seeds" in roi.reason and roi.seeds_needed == roi.more_seeds + 3
    if extra_hours <= 0:
        assert roi.roi.value is None  # no extra cost: ROI is unbounded, reported as None


def test_roi_says_when_more_seeds_cannot_settle_it() -> None:
    # 40 test examples, arms that disagree on many of them but differ little on average: the test set's part
    # alone is wider than the difference, whatever the seeds.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    arm_correct = np.tile(rng.random(40) < 0.8, (3, 1))
    base_correct = np.tile(rng.random(40) < 0.78, (3, 1))
    arm_correct[0, 0] = not arm_correct[0, 0]  # a little seed noise
    contrast = Contrast(
        True,
        accuracy_statistic(range(3), arm_correct.mean(axis=1), arm_correct),
        accuracy_statistic(range(3), base_correct.mean(axis=1), base_correct),
    )
    parts = contrast.parts()
    assert parts is not None and parts.test_examples == 40 and labels.size == 40
    roi = compute_roi(
        arm="x", delta_acc=parts.estimate, delta_churn=None, contrast=contrast, extra_device_hours_per_training=0.0,
        price_per_device_hour=1.0, inputs={"predictions_per_year": 1e5, "cost_per_error": 0.1}, seeds_now=3,
    )  # fmt: skip
    assert roi.verdict == "inconclusive" and roi.test_set_limited and roi.more_seeds is None
    assert roi.reason == "more seeds cannot settle this: the test set (40 examples) is too small"


def test_arm_results_comparisons_and_pareto() -> None:
    runs = [make_run(i, "none", s, acc, hours=0.01) for i, (s, acc) in enumerate([(0, 0.90), (1, 0.91), (2, 0.92)])]
    runs += [
        make_run(10 + s, "rblock_s", s, acc, hours=0.02, predictions=[0, 1, 2, 3])
        for s, acc in [(0, 0.95), (1, 0.96), (2, 0.955)]
    ]
    runs += [make_run(20, "dropout", 0, 0.80, hours=0.03), make_run(21, "dropout", 1, None, status=RunStatus.FAILED)]
    results = arm_results(runs, {"none": "none", "rblock_s": "rblock_s", "dropout": "dropout"}, {"cpu": 1.0})
    assert results["none"].test_acc.n == 3 and results["rblock_s"].cost == pytest.approx(0.02)
    assert results["dropout"].test_acc.n == 1
    rows = {row.arm: row for row in compare(runs, list(results), "none")[0]}
    assert rows["rblock_s"].paired_p is not None and rows["rblock_s"].delta_acc == pytest.approx(0.045)
    d = np.subtract([0.95, 0.96, 0.955], [0.90, 0.91, 0.92])
    half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert rows["rblock_s"].delta_acc_ci == (pytest.approx(0.045 - half), pytest.approx(0.045 + half))
    assert rows["rblock_s"].p_value == pytest.approx(sps.ttest_rel(d, np.zeros(3)).pvalue)
    assert rows["rblock_s"].acc_seed_half == pytest.approx(half) and rows["rblock_s"].acc_test_half is None
    assert "test labels" in rows["rblock_s"].note
    assert rows["dropout"].note.startswith("one seed")
    assert pareto_front(results) == ["none", "rblock_s"]
    assert churn([[0, 1, 2, 3], [0, 1, 2, 0], [1, 1, 2, 3]]) == pytest.approx((0.25 + 0.25 + 0.5) / 3)


def test_accuracy_intervals_stay_inside_0_1() -> None:
    runs = [make_run(i, "none", i, acc) for i, acc in enumerate((0.99, 1.0, 0.975))]
    acc = arm_results(runs, {"none": "none"}, {"cpu": 1.0})["none"].test_acc
    assert acc.ci_high == 1.0 and acc.ci_low is not None and 0 < acc.ci_low < 0.99
    points = [
        MetricPoint(r.id, key, 1, v)
        for r, v in zip(runs, (0.99, 1.0, 0.975), strict=True)
        for key in ("test_acc", "nll")
    ]
    summary = build_summary(make_pilot({"none": {}}), runs, points, prices={"cpu": 0.1})
    assert summary.curves["none"]["test_acc"][0].ci_high == 1.0
    nll_high = summary.curves["none"]["nll"][0].ci_high
    assert nll_high is not None and nll_high > 1.0  # not a share: not cut


def _labelled_runs(rng: np.random.Generator, n_seeds: int = 3, n: int = 200) -> tuple[list[Run], np.ndarray]:
    labels = rng.integers(0, 3, n)
    runs = []
    for k, (arm, p_right) in enumerate((("none", 0.80), ("rblock_s", 0.85))):
        for s in range(n_seeds):
            right = rng.random(n) < p_right
            predictions = np.where(right, labels, (labels + 1 + rng.integers(0, 2, n)) % 3)
            runs.append(
                make_run(
                    10 * k + s, arm, s, float(right.mean()), predictions=predictions.tolist(), labels=labels.tolist()
                )
            )
    return runs, labels


def _expected(
    estimate: float, seed_var: float, seed_df: float, seed_noise: float, test_var: float, n: int
) -> tuple[float, float, float, float]:
    """The combined interval, its p-value and the seed half-width, written out from the rule: the seed part is
    the larger of the seeds' estimate and the examples' (seed noise over N, N - 1 df); Satterthwaite df in
    Welch's 1947 form, clipped to [min df, sum df]."""
    seed_part, df_seed = max((seed_var, seed_df), (seed_noise, n - 1))
    total = seed_part + test_var
    df = total**2 / (seed_part**2 / (df_seed + 2) + test_var**2 / (n + 1)) - 2
    df = min(max(df, min(df_seed, n - 1)), df_seed + n - 1)
    half = sps.t.ppf(0.975, df) * math.sqrt(total)
    p = 2 * sps.t.sf(abs(estimate) / math.sqrt(total), df)
    return estimate - half, estimate + half, p, sps.t.ppf(0.975, df_seed) * math.sqrt(seed_part)


def test_the_finite_test_set_adds_its_part_by_hand() -> None:
    runs, labels = _labelled_runs(np.random.default_rng(1))
    correct = {
        arm: np.array([np.equal(r.predictions, labels) for r in runs if r.arm == arm]) for arm in ("none", "rblock_s")
    }
    row = compare(runs, ["none", "rblock_s"], "none")[0][0]
    c_arm, c_base = correct["rblock_s"].astype(float), correct["none"].astype(float)
    d_seed = c_arm.mean(axis=1) - c_base.mean(axis=1)
    seed_var = d_seed.var(ddof=1) / 3
    d_x = c_arm.mean(axis=0) - c_base.mean(axis=0)
    noise = (c_arm - c_base).var(axis=0, ddof=1).mean() / 3  # paired: the per-example seed noise in d(x)
    test_var = max(0.0, (d_x.var(ddof=1) - noise) / 200)
    low, high, p, seed_half = _expected(d_seed.mean(), seed_var, 2, noise / 200, test_var, 200)
    assert row.delta_acc_ci == (pytest.approx(low), pytest.approx(high))
    assert row.acc_seed_half == pytest.approx(seed_half)
    assert row.acc_test_half == pytest.approx(sps.t.ppf(0.975, 199) * math.sqrt(test_var)) and test_var > 0
    assert row.test_examples == 200 and row.note == "" and row.paired
    assert row.p_value == pytest.approx(p)


def test_churn_interval_by_hand() -> None:
    runs, _ = _labelled_runs(np.random.default_rng(2), n_seeds=4, n=150)
    preds = {arm: np.array([r.predictions for r in runs if r.arm == arm]) for arm in ("none", "rblock_s")}
    row = compare(runs, ["none", "rblock_s"], "none")[0][0]

    def churn_x(p: np.ndarray) -> np.ndarray:  # per example, the mean over seed pairs of "differs"
        return np.mean([p[i] != p[j] for i in range(len(p)) for j in range(i + 1, len(p))], axis=0)

    full = churn_x(preds["none"]) - churn_x(preds["rblock_s"])
    loo = np.array(
        [churn_x(np.delete(preds["none"], s, 0)) - churn_x(np.delete(preds["rblock_s"], s, 0)) for s in range(4)]
    )
    seed_var = 3 / 4 * ((loo.mean(axis=1) - loo.mean(axis=1).mean()) ** 2).sum()
    noise = (3 / 4 * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0)).mean()
    test_var = max(0.0, (full.var(ddof=1) - noise) / 150)
    low, high, p, seed_half = _expected(full.mean(), seed_var, 3, noise / 150, test_var, 150)
    assert row.delta_churn == pytest.approx(full.mean())
    assert row.delta_churn == pytest.approx(churn(preds["none"].tolist()) - churn(preds["rblock_s"].tolist()))
    assert row.delta_churn_ci == (pytest.approx(low), pytest.approx(high))
    assert row.churn_p == pytest.approx(p) and row.churn_seed_half == pytest.approx(seed_half)
    assert churn_statistic(range(2), preds["none"][:2]) is None  # one pair: nothing to leave out


def test_net_benefit_interval_carries_accuracy_and_churn_jointly() -> None:
    runs, _ = _labelled_runs(np.random.default_rng(3), n_seeds=4, n=150)
    _, contrasts = compare(runs, ["none", "rblock_s"], "none")
    contrast = contrasts["rblock_s"]
    acc, chg, both = contrast.parts(1.0, 0.0), contrast.parts(0.0, 1.0), contrast.parts(2.0, 3.0)
    assert acc is not None and chg is not None and both is not None
    assert both.estimate == pytest.approx(2 * acc.estimate + 3 * chg.estimate)
    # Jackknifed jointly: the covariance between the two is in the seed part (not just the two sums).
    seeds = np.array(
        [
            2 * a + 3 * c
            for a, c in zip(
                contrast.arm_accuracy.loo - contrast.base_accuracy.loo,
                contrast.base_churn.loo - contrast.arm_churn.loo,
                strict=True,
            )
        ]
    )
    assert both.seed_var == pytest.approx(3 / 4 * ((seeds - seeds.mean()) ** 2).sum())


def test_summary_threads_the_confidence() -> None:
    runs, _ = _labelled_runs(np.random.default_rng(4))
    pilot = make_pilot({"none": {}, "rblock_s": {}}, roi={"predictions_per_year": 1e6, "cost_per_error": 0.1})
    wide, narrow = (build_summary(pilot, runs, [], prices={"cpu": 0.1}, confidence=c) for c in (0.99, 0.8))
    assert wide.confidence == 0.99 and narrow.confidence == 0.8
    w, n = wide.comparisons[0].delta_acc_ci, narrow.comparisons[0].delta_acc_ci
    assert w is not None and n is not None
    assert w[0] < n[0] < n[1] < w[1]
    assert wide.roi[0].net_per_year.low < narrow.roi[0].net_per_year.low
    assert wide.arms[0].test_acc.ci_low < narrow.arms[0].test_acc.ci_low
    with pytest.raises(ValueError, match="confidence"):
        build_summary(pilot, runs, [], prices={"cpu": 0.1}, confidence=95)


def test_warnings_cover_provisional_failed_devices_seeds_and_drop_rates() -> None:
    runs = [
        make_run(1, "dropblock", 0, 0.9, device="cpu"),
        make_run(2, "rblock_s", 0, 0.9, device="cuda"),
        make_run(3, "rblock_s", 1, 0.9),
        make_run(4, "none", 0, None, status=RunStatus.RUNNING),
        make_run(5, "none", 1, None, status=RunStatus.FAILED),
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
    pilot = make_pilot({"none": {}, "rblock_s": {"drop_prob": 0.1}}, roi={"predictions_per_year": 1e6})
    runs = [
        make_run(1, "none", 0, None, status=RunStatus.FAILED),
        make_run(2, "rblock_s", 0, None, status=RunStatus.FAILED),
    ]
    summary = build_summary(pilot, runs, [], prices={"cpu": 0.1})
    assert summary.roi[0].verdict == "inconclusive"
    assert any("Every run failed" in w for w in summary.warnings)
    json.dumps(summary.to_jsonable(), allow_nan=False)  # plain JSON: no NaN, no objects
    runs = [make_run(i, arm, s, 0.9 + 0.01 * s + (0.02 if arm == "rblock_s" else 0)) for i, (arm, s) in
            enumerate([(a, s) for a in ("none", "rblock_s") for s in range(3)])]  # fmt: skip
    points = [MetricPoint(r.id, "test_acc", e, 0.5 + 0.1 * e) for r in runs for e in (1, 2, 3)]
    summary = build_summary(pilot, runs, points, prices={"cpu": 0.1})
    assert summary.provisional is False
    assert summary.comparisons[0].delta_acc == pytest.approx(0.02)
    assert [p.epoch for p in summary.curves["none"]["test_acc"]] == [1, 2, 3]
    json.dumps(summary.to_jsonable(), allow_nan=False)


def test_every_metric_is_aggregated_per_arm_and_epoch() -> None:
    pilot = make_pilot({"none": {}})
    runs = [make_run(i, "none", i, 0.9) for i in range(3)]
    points = [MetricPoint(r.id, key, 1, v) for r, v in zip(runs, (0.1, 0.2, 0.3), strict=True) for key in ("ece", "lr")]
    curves = build_summary(pilot, runs, points, prices={"cpu": 0.1}).curves["none"]
    assert set(curves) == {"ece", "lr"}
    point = curves["lr"][0]
    d = stats.describe([0.1, 0.2, 0.3])
    assert point.n == 3 and point.mean == pytest.approx(0.2)
    assert point.std == pytest.approx(d.std) and point.sem == pytest.approx(d.sem)
    assert (point.ci_low, point.ci_high) == (pytest.approx(d.ci_low), pytest.approx(d.ci_high))
    assert d.ci_low is not None and d.ci_low < 0 and curves["ece"][0].ci_low == 0.0  # a share is cut to [0, 1]
