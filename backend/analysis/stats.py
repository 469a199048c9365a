"""Statistics over seeds: t-intervals, bootstrap, Welch and paired t-tests, Holm, Cohen's d, seed planning.

scipy.stats does the distributions; the conventions (two-sided tests, 95% intervals, percentile bootstrap
with a fixed seed) are written down here once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80
BOOTSTRAP_SAMPLES = 10_000
MAX_PLANNED_SEEDS = 1000


@dataclass(frozen=True)
class Describe:
    """n, mean, std (n-1), standard error and the 95% t-interval of a sample (None where undefined)."""

    n: int
    mean: float | None
    std: float | None
    sem: float | None
    ci_low: float | None
    ci_high: float | None


@functools.lru_cache(maxsize=1024)
def t_quantile(df: int) -> float:
    """The two-sided ``CONFIDENCE`` quantile of Student's t with ``df`` degrees of freedom (cached: the
    curves describe thousands of (arm, key, epoch) samples of the same few sizes)."""
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def describe(values: Sequence[float]) -> Describe:
    # Plain Python: a handful of seeds per sample, where numpy's per-call overhead dominates.
    x = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(x)
    if n == 0:
        return Describe(0, None, None, None, None, None)
    mean = math.fsum(x) / n
    if n == 1:
        return Describe(1, mean, None, None, None, None)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    sem = std / math.sqrt(n)
    half = t_quantile(n - 1) * sem
    return Describe(n, mean, std, sem, mean - half, mean + half)


def bootstrap_diff_ci(
    treatment: Sequence[float], baseline: Sequence[float], *, paired: bool, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile 95% CI of mean(treatment) - mean(baseline); resampling seeds (pairs when ``paired``)."""
    a, b = np.asarray(treatment, dtype=float), np.asarray(baseline, dtype=float)
    if a.size < 2 or b.size < 2 or (paired and a.size != b.size):
        return None
    rng = np.random.default_rng(seed)
    if paired:
        d = a - b
        idx = rng.integers(0, d.size, size=(BOOTSTRAP_SAMPLES, d.size))
        diffs = d[idx].mean(axis=1)
    else:
        ia = rng.integers(0, a.size, size=(BOOTSTRAP_SAMPLES, a.size))
        ib = rng.integers(0, b.size, size=(BOOTSTRAP_SAMPLES, b.size))
        diffs = a[ia].mean(axis=1) - b[ib].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def welch_p(treatment: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test; None below two values a side or with no spread at all."""
    if len(treatment) < 2 or len(baseline) < 2:
        return None
    if np.std(treatment) == 0 and np.std(baseline) == 0:
        return 1.0 if np.mean(treatment) == np.mean(baseline) else 0.0
    return float(stats.ttest_ind(treatment, baseline, equal_var=False).pvalue)


def paired_p(treatment: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Two-sided p-value of the paired t-test on matched seeds."""
    if len(treatment) < 2 or len(treatment) != len(baseline):
        return None
    d = np.asarray(treatment, dtype=float) - np.asarray(baseline, dtype=float)
    if np.std(d) == 0:
        return 1.0 if d.mean() == 0 else 0.0
    return float(stats.ttest_rel(treatment, baseline).pvalue)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone), None kept where a test was undefined."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def cohens_d(treatment: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Difference of means over the pooled standard deviation (sample variances averaged)."""
    if len(treatment) < 2 or len(baseline) < 2:
        return None
    pooled = math.sqrt((np.var(treatment, ddof=1) + np.var(baseline, ddof=1)) / 2)
    if pooled == 0:
        return None
    return float((np.mean(treatment) - np.mean(baseline)) / pooled)


def seeds_needed(difference: float, std_treatment: float, std_baseline: float) -> int | None:
    """Seeds per arm for a two-sided two-sample t-test to detect ``difference`` at alpha 0.05, power 0.8.

    Uses the noncentral t distribution with the pooled spread observed. None when no difference was
    observed or there is no spread to plan with; capped at 1000.
    """
    pooled = math.sqrt((std_treatment**2 + std_baseline**2) / 2)
    if difference == 0 or pooled == 0 or not math.isfinite(pooled):
        return None
    effect = abs(difference) / pooled
    for n in range(2, MAX_PLANNED_SEEDS + 1):
        df = 2 * n - 2
        critical = stats.t.ppf(1 - ALPHA / 2, df)
        noncentrality = effect * math.sqrt(n / 2)
        power = 1 - stats.nct.cdf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality)
        if power >= POWER:
            return n
    return MAX_PLANNED_SEEDS
