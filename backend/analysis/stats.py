"""Statistics over seeds: t-intervals, calibrated differences, their dual t tests, Holm, Cohen's d, seed planning.

**The one rule.** Every interval is a Student t interval ``estimate ± t(df) · sqrt(variance)`` built by
:class:`VarianceParts`, and the p-value shown beside it is the two-sided t test of the same statistic with
the same df: at confidence ``c``, p < 1 − c exactly when the interval excludes 0. A verdict reads only
intervals (adopt: the whole net-benefit interval above 0; reject: below 0), so it never contradicts the
p-value beside it. Holm's correction across arms is shown as a family-wise column; it does not decide.

**Calibrated at few seeds.** A difference between two arms uses Student t on the per-seed differences when
the seeds match (paired), Welch–Satterthwaite otherwise. There is no bootstrap: at the 2–10 seeds of a pilot
a percentile bootstrap excludes a true zero 51% / 25% / 16% / 10% of the time at 2 / 3 / 5 / 10 seeds
(``reference/statistics.md``); it would only be calibrated at ~20 seeds or more.

Degrees of freedom of a sum of estimated variances follow Welch–Satterthwaite in Welch's (1947) form,
``(Σv)² / Σ v²/(df+2) − 2``, clipped to ``[min df, Σ df]`` (the range the true Satterthwaite df lies in).
It replaces the plug-in estimates of ``v²`` in Satterthwaite's formula by unbiased ones; the plug-in form is
so noisy at 2 seeds a side that its intervals were a median 1.6× as wide as the pooled t's (and excluded a
true zero 2.2% of the time instead of 5%); this form is 1.27× and 3.4% (measured, 40,000 replications).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from pilot_spec.analysis import Describe

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80
MAX_PLANNED_SEEDS = 1000
UNIT = (0.0, 1.0)  # where an accuracy (or any share) lies
SIGNED_UNIT = (-1.0, 1.0)  # where a difference of two shares lies


@functools.lru_cache(maxsize=4096)
def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided ``confidence`` quantile of Student's t with ``df`` degrees of freedom (cached: the
    curves describe thousands of (arm, key, epoch) samples of the same few sizes)."""
    return float(stats.t.ppf(0.5 + confidence / 2, df))


def clip(low: float, high: float, bounds: tuple[float, float] | None) -> tuple[float, float]:
    """An interval cut to the range its quantity can take (an accuracy never leaves [0, 1])."""
    if bounds is None:
        return low, high
    return max(bounds[0], min(bounds[1], low)), max(bounds[0], min(bounds[1], high))


def describe(
    values: Sequence[float], confidence: float = CONFIDENCE, bounds: tuple[float, float] | None = None
) -> Describe:
    """The t-interval of the mean, cut to ``bounds`` where the quantity is bounded (accuracies: ``UNIT``)."""
    # Plain Python: a handful of seeds per sample, where numpy's per-call overhead dominates.
    x = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(x)
    if n == 0:
        return Describe(n=0, mean=None, std=None, sem=None, ci_low=None, ci_high=None)
    mean = math.fsum(x) / n
    if n == 1:
        return Describe(n=1, mean=mean, std=None, sem=None, ci_low=None, ci_high=None)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    sem = std / math.sqrt(n)
    half = t_quantile(n - 1, confidence) * sem
    low, high = clip(mean - half, mean + half, bounds)
    return Describe(n=n, mean=mean, std=std, sem=sem, ci_low=low, ci_high=high)


def satterthwaite(parts: Sequence[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of independent estimated variances ``(variance, df)`` (Welch 1947 form,
    see the module docstring). Parts with no variance carry no information about the total and drop out."""
    present = [(v, df) for v, df in parts if v > 0]
    if not present:
        return min((df for _, df in parts), default=math.inf)
    total = math.fsum(v for v, _ in present)
    denominator = math.fsum(v * v / (df + 2) for v, df in present)
    estimate = total * total / denominator - 2 if denominator > 0 else math.inf
    return min(max(estimate, min(df for _, df in present)), math.fsum(df for _, df in present))


@dataclass(frozen=True)
class VarianceParts:
    """A linear estimate with its variance in two independent parts and their degrees of freedom.

    ``seed_var``: how much the estimate moves from one set of seeds to another on this test set.
    ``test_var``: how much it moves from this test set of ``test_examples`` examples to another drawn from
    the same population (0 with ``test_examples`` = 0 where runs kept no labels). The interval of the sum is a
    t interval with Satterthwaite's df; each part's own half-width (t at its own df) is reported too, so a
    reader sees which one to shrink (more seeds only shrink the first).
    """

    estimate: float
    seed_var: float
    seed_df: float
    test_var: float = 0.0
    test_df: float = math.inf
    test_examples: int = 0
    seed_noise: float = 0.0  # the seed noise as the test examples measure it (see seed_part)

    @property
    def seed_part(self) -> tuple[float, float]:
        """The seed part's variance and df as the interval uses them.

        Where outcomes are known per example, the examples measure the seed noise too: each example's answer
        varies over seeds, and over N examples that gives ``seed_noise`` with N − 1 df, where the seeds'
        own estimate has n − 1 (2 at 3 seeds, so it is often far too small by chance). The seed part is the
        larger of the two, with the df of the one taken: seeds can share a component across examples (a
        seed better everywhere) that only the seeds' estimate sees. Simulated at 3 seeds (test_calibration.py)
        the seeds' estimate alone covered the population difference 91% of the time at 95%.
        """
        if self.seed_noise > self.seed_var:
            return self.seed_noise, self.test_df
        return self.seed_var, self.seed_df

    @property
    def variance(self) -> float:
        return self.seed_part[0] + self.test_var

    @property
    def df(self) -> float:
        return satterthwaite([self.seed_part, (self.test_var, self.test_df)])

    def half_width(self, confidence: float = CONFIDENCE) -> float:
        return t_quantile(self.df, confidence) * math.sqrt(self.variance)

    def seed_half_width(self, confidence: float = CONFIDENCE) -> float:
        variance, df = self.seed_part
        return t_quantile(df, confidence) * math.sqrt(variance)

    def test_half_width(self, confidence: float = CONFIDENCE) -> float | None:
        """None where the test-set part is unknown (no labels), 0 where it was estimated as nothing."""
        if not self.test_examples:
            return None
        return t_quantile(self.test_df, confidence) * math.sqrt(self.test_var) if self.test_var > 0 else 0.0

    def interval(
        self, confidence: float = CONFIDENCE, bounds: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        half = self.half_width(confidence) if self.variance > 0 else 0.0
        return clip(self.estimate - half, self.estimate + half, bounds)

    def p_value(self) -> float:
        """Two-sided t test of estimate = 0, dual to :meth:`interval` (p < 1 − c iff it excludes 0)."""
        if self.variance <= 0:
            return 1.0 if self.estimate == 0 else 0.0
        return float(2 * stats.t.sf(abs(self.estimate) / math.sqrt(self.variance), self.df))

    def scaled(self, weight: float) -> VarianceParts:
        square = weight**2
        return dataclasses.replace(
            self,
            estimate=self.estimate * weight,
            seed_var=self.seed_var * square,
            test_var=self.test_var * square,
            seed_noise=self.seed_noise * square,
        )

    def shifted(self, by: float) -> VarianceParts:
        return dataclasses.replace(self, estimate=self.estimate + by)


def difference_parts(treatment: Sequence[float], baseline: Sequence[float], *, paired: bool) -> VarianceParts | None:
    """mean(treatment) − mean(baseline) over seeds: paired t on the per-seed differences (``paired``: the
    i-th values share a seed), else Welch–Satterthwaite. None below two values a side."""
    a, b = np.asarray(treatment, dtype=float), np.asarray(baseline, dtype=float)
    if a.size < 2 or b.size < 2:
        return None
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired differences need as many values a side, got {a.size} and {b.size}")
        d = a - b
        return VarianceParts(float(d.mean()), float(d.var(ddof=1)) / d.size, d.size - 1)
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    return VarianceParts(float(a.mean() - b.mean()), va + vb, satterthwaite([(va, a.size - 1), (vb, b.size - 1)]))


def difference_ci(
    treatment: Sequence[float], baseline: Sequence[float], *, paired: bool, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """The calibrated ``confidence`` interval of mean(treatment) − mean(baseline) over seeds (see
    :func:`difference_parts`); None below two values a side."""
    parts = difference_parts(treatment, baseline, paired=paired)
    return None if parts is None else parts.interval(confidence)


def welch_p(treatment: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test (scipy's, plug-in df); None below two values a side or with no
    spread at all. Shown for reference: the deciding p-value is :meth:`VarianceParts.p_value`."""
    if len(treatment) < 2 or len(baseline) < 2:
        return None
    if np.std(treatment) == 0 and np.std(baseline) == 0:
        return 1.0 if np.mean(treatment) == np.mean(baseline) else 0.0
    return float(stats.ttest_ind(treatment, baseline, equal_var=False).pvalue)


def paired_p(treatment: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Two-sided p-value of the paired t-test on matched seeds (seed noise only)."""
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


@dataclass(frozen=True)
class SeedPlan:
    """Seeds per arm for the interval to exclude 0 with the planned power; ``seeds`` is None when there is
    nothing to plan (no difference, no spread) or when ``test_set_limited``: the test-set part alone is too
    wide, and it does not shrink with seeds."""

    seeds: int | None
    test_set_limited: bool = False


def _power(estimate: float, variance: float, df: float, confidence: float) -> float:
    critical = t_quantile(df, confidence)
    noncentrality = abs(estimate) / math.sqrt(variance)
    power = float(stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality))
    if math.isfinite(power):
        return power
    # scipy's noncentral t returns NaN far in its tails (noncentrality above ~20): the normal limit is exact
    # enough there, where the power is all but 0 or 1.
    return float(stats.norm.sf(critical - noncentrality) + stats.norm.cdf(-critical - noncentrality))


def seeds_needed(
    parts: VarianceParts, seeds_now: int, *, confidence: float = CONFIDENCE, power: float = POWER
) -> SeedPlan:
    """Seeds per arm at which the interval of ``parts`` (the same model: t with Satterthwaite's df) would
    exclude 0 with ``power``, if the true difference were the one observed (noncentral t).

    With ``n`` seeds the seed part scales as ``seeds_now / n`` and its df as ``(n − 1) / (seeds_now − 1)``
    (paired: ``n − 1``; Welch: between ``n − 1`` and ``2n − 2`` as now); the test-set part stays. Capped at
    ``MAX_PLANNED_SEEDS``.
    """
    if parts.estimate == 0 or parts.variance <= 0 or seeds_now < 2 or not math.isfinite(parts.variance):
        return SeedPlan(None)
    if parts.test_var > 0 and _power(parts.estimate, parts.test_var, parts.test_df, confidence) < power:
        return SeedPlan(None, test_set_limited=True)
    df_per_seed = parts.seed_df / (seeds_now - 1)

    def enough(n: int) -> bool:
        share = seeds_now / n  # both the seed part and the examples' seed noise shrink as 1/n
        planned = dataclasses.replace(
            parts, seed_var=parts.seed_var * share, seed_df=df_per_seed * (n - 1), seed_noise=parts.seed_noise * share
        )
        return _power(parts.estimate, planned.variance, planned.df, confidence) >= power

    if not enough(MAX_PLANNED_SEEDS):
        return SeedPlan(MAX_PLANNED_SEEDS)
    low, high = 1, MAX_PLANNED_SEEDS  # power grows with n: bisect for the first n that is enough
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return SeedPlan(high)
