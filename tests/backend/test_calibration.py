"""Calibration of the intervals that verdicts rest on, by simulation (fixed seeds, 2,000 replications each).

* Seeds only: under a true zero difference ``difference_ci`` excludes 0 at most 6.5% of the time at 2, 3, 5
  and 10 seeds, paired and unpaired, and is at most 1.5x as wide (median) as the plain t-interval.
* The finite test set: per-example outcomes from a population of examples of varied difficulty; each
  replication draws a test set of N examples and per-seed outcomes for two arms; the interval must cover
  the difference on the *population* (exact, from the population's probabilities) at least 93.5% of the
  time, for a zero and a non-zero difference; the seed-only interval does not (which is why the part is there).
* Churn likewise, on simulated predictions; and the ROI verdict when the true net benefit is 0.

The data are drawn vectorised; each replication then goes through the real code (samples -> contrast ->
parts -> interval), which is what is under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from backend.analysis import stats
from backend.analysis.roi import compute_roi
from backend.analysis.samples import ArmSamples, contrast

REPLICATIONS = 2000
MIN_COVERAGE = 0.935


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_difference_ci_excludes_a_true_zero_at_most_6_5_percent(n: int, paired: bool) -> None:
    rng = np.random.default_rng(1000 * n + paired)
    shared = rng.normal(0, 1, (REPLICATIONS, n))  # a seed's effect on both arms (what pairing removes)
    own = 0.5 if paired else 1.0
    a = shared * paired + rng.normal(0, own, (REPLICATIONS, n))
    b = shared * paired + rng.normal(0, own, (REPLICATIONS, n))
    intervals = np.array([stats.difference_ci(x, y, paired=paired) for x, y in zip(a, b, strict=True)])
    excluded = np.mean((intervals[:, 0] > 0) | (intervals[:, 1] < 0))
    if paired:
        plain = 2 * sps.t.ppf(0.975, n - 1) * (a - b).std(axis=1, ddof=1) / np.sqrt(n)
    else:
        pooled = np.sqrt((a.var(axis=1, ddof=1) + b.var(axis=1, ddof=1)) / 2)
        plain = 2 * sps.t.ppf(0.975, 2 * n - 2) * pooled * np.sqrt(2 / n)
    ratio = np.median(intervals[:, 1] - intervals[:, 0]) / np.median(plain)
    assert excluded <= 0.065, f"n={n} paired={paired}: excludes 0 in {excluded:.1%}"
    assert ratio <= 1.5, f"n={n} paired={paired}: median width {ratio:.2f}x the plain t-interval's"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-x)))


def _accuracy_population(rng: np.random.Generator, shift: float, tau: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-example logits of being right for two arms, and the true population Δaccuracy.

    Examples come in mirrored pairs (the two arms' own per-example effects swapped), so with ``shift`` = 0
    the population difference is exactly 0; a seed moves every logit of an arm by u ~ N(0, tau), and the
    true accuracy integrates over it (Gauss-Hermite).
    """
    half = 5000
    difficulty = rng.normal(1.6, 1.4, half)
    e1, e2 = rng.normal(0, 1.5, half), rng.normal(0, 1.5, half)
    logit_a = np.concatenate([difficulty + e1, difficulty + e2]) + shift
    logit_b = np.concatenate([difficulty + e2, difficulty + e1])
    nodes, weights = np.polynomial.hermite.hermgauss(40)
    u, w = np.sqrt(2) * tau * nodes, weights / np.sqrt(np.pi)
    true_a = float((w * _sigmoid(logit_a[:, None] + u)).sum(axis=1).mean())
    true_b = float((w * _sigmoid(logit_b[:, None] + u)).sum(axis=1).mean())
    return logit_a, logit_b, true_a - true_b


def _arm(seeds: int, correct: np.ndarray) -> ArmSamples:
    # Label 0 everywhere, prediction 0 when right: what the analysis derives from stored runs.
    predictions = (~correct).astype(np.int64)
    return ArmSamples(
        tuple(range(seeds)), tuple(correct.mean(axis=1)), predictions, np.zeros(correct.shape[1], np.int64)
    )


@pytest.mark.parametrize(("shift", "paired", "seeds"), [(0.0, True, 3), (0.4, True, 3), (0.0, False, 5)])
def test_accuracy_interval_covers_the_population_difference(shift: float, paired: bool, seeds: int) -> None:
    rng = np.random.default_rng(7 + seeds + int(10 * shift))
    tau, examples = 0.3, 300
    logit_a, logit_b, true_delta = _accuracy_population(rng, shift, tau)
    assert (true_delta == pytest.approx(0.0, abs=1e-12)) == (shift == 0.0)
    picks = rng.integers(0, logit_a.size, (REPLICATIONS, examples))
    u_a = rng.normal(0, tau, (REPLICATIONS, seeds, 1))
    u_b = u_a if paired else rng.normal(0, tau, (REPLICATIONS, seeds, 1))
    right_a = rng.random((REPLICATIONS, seeds, examples)) < _sigmoid(logit_a[picks][:, None, :] + u_a)
    right_b = rng.random((REPLICATIONS, seeds, examples)) < _sigmoid(logit_b[picks][:, None, :] + u_b)
    covered = seed_only = 0
    for a, b in zip(right_a, right_b, strict=True):
        mine, base = _arm(seeds, a), _arm(seeds, b)
        if not paired:  # other seeds: the arms do not share them
            mine = ArmSamples(tuple(range(100, 100 + seeds)), mine.accuracies, mine.predictions, mine.labels)
        parts = contrast(mine, base)[0].parts()
        assert parts is not None and parts.test_examples == examples
        low, high = parts.interval()
        covered += low <= true_delta <= high
        low, high = stats.VarianceParts(parts.estimate, parts.seed_var, parts.seed_df).interval()
        seed_only += low <= true_delta <= high
    assert covered / REPLICATIONS >= MIN_COVERAGE, f"coverage {covered / REPLICATIONS:.1%}"
    assert seed_only / REPLICATIONS < 0.93  # the seeds alone fall short: they do not speak for the population


def _class_population(rng: np.random.Generator, sharpen: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-example class probabilities (3 classes, class 0 right) of two arms, in mirrored pairs as above;
    ``sharpen`` > 0 makes arm A's answers more stable (and a little more accurate)."""
    half = 4000
    base = rng.normal(0, 1.0, (half, 3)) + np.array([1.2, 0.0, 0.0])
    e1, e2 = rng.normal(0, 0.7, (half, 3)), rng.normal(0, 0.7, (half, 3))
    z_a = np.concatenate([base + e1, base + e2]) * (1 + sharpen)
    z_b = np.concatenate([base + e2, base + e1])
    return [np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) for z in (z_a, z_b)]  # type: ignore[return-value]


def _draw(rng: np.random.Generator, q: np.ndarray, seeds: int) -> np.ndarray:
    """Predictions (replications, seeds, examples) drawn per seed from each example's class probabilities."""
    cumulative = q.cumsum(axis=-1)[:, None, :, :]
    uniform = rng.random((q.shape[0], seeds, q.shape[1], 1))
    return np.asarray((uniform > cumulative).sum(axis=-1), dtype=np.int64)


def _predictions(seeds: int, predictions: np.ndarray) -> ArmSamples:
    correct = predictions == 0
    return ArmSamples(
        tuple(range(seeds)), tuple(correct.mean(axis=1)), predictions, np.zeros(predictions.shape[1], np.int64)
    )


@pytest.mark.parametrize(("sharpen", "seeds"), [(0.0, 3), (0.5, 3), (0.5, 5)])
def test_churn_interval_covers_the_population_difference(sharpen: float, seeds: int) -> None:
    rng = np.random.default_rng(11 + seeds + int(10 * sharpen))
    q_a, q_b = _class_population(rng, sharpen)
    true_delta = float(((1 - (q_b**2).sum(axis=1)) - (1 - (q_a**2).sum(axis=1))).mean())  # churn(base) - churn(arm)
    assert (abs(true_delta) < 1e-12) == (sharpen == 0.0)
    picks = rng.integers(0, q_a.shape[0], (REPLICATIONS, 200))
    pred_a, pred_b = _draw(rng, q_a[picks], seeds), _draw(rng, q_b[picks], seeds)
    covered = 0
    for a, b in zip(pred_a, pred_b, strict=True):
        parts = contrast(_predictions(seeds, a), _predictions(seeds, b))[0].parts(0.0, 1.0)
        assert parts is not None
        low, high = parts.interval()
        covered += low <= true_delta <= high
    assert covered / REPLICATIONS >= MIN_COVERAGE, f"coverage {covered / REPLICATIONS:.1%}"


def test_roi_is_inconclusive_when_the_true_net_benefit_is_zero() -> None:
    rng = np.random.default_rng(5)
    seeds, inputs = 3, {"predictions_per_year": 1e6, "cost_per_error": 0.2, "cost_per_changed_prediction": 0.05}
    q_a, q_b = _class_population(rng, 0.5)
    true_acc = float(q_a[:, 0].mean() - q_b[:, 0].mean())
    true_churn = float(((q_a**2).sum(axis=1) - (q_b**2).sum(axis=1)).mean())
    benefit = 1e6 * (0.2 * true_acc + 0.05 * true_churn)
    assert benefit > 0
    picks = rng.integers(0, q_a.shape[0], (REPLICATIONS, 200))
    pred_a, pred_b = _draw(rng, q_a[picks], seeds), _draw(rng, q_b[picks], seeds)
    verdicts = []
    for a, b in zip(pred_a, pred_b, strict=True):
        mine, base = _predictions(seeds, a), _predictions(seeds, b)
        pair = contrast(mine, base)[0]
        churn = pair.parts(0.0, 1.0)
        roi = compute_roi(
            arm="x", delta_acc=float(np.mean(mine.accuracies) - np.mean(base.accuracies)),
            delta_churn=None if churn is None else churn.estimate, contrast=pair,
            extra_device_hours_per_training=benefit, price_per_device_hour=1.0,
            inputs={**inputs, "retrains_per_year": 1.0}, seeds_now=seeds,
        )  # fmt: skip
        verdicts.append(roi.verdict)
    share = verdicts.count("inconclusive") / REPLICATIONS
    assert share >= MIN_COVERAGE, f"inconclusive in {share:.1%} ({verdicts.count('adopt')} adopt)"
