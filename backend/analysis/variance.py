"""One mechanism for every interval of an arm against the baseline: seeds and the finite test set.

All runs of a pilot share one test set of N examples, so a difference measured on it has two sources of
error: the seeds (retrain and the numbers move) and the test set (another N examples from the same
population and they move too). Seed spread does not cover the second (360 digits images: about ±1 pp).

Every statistic here (accuracy, seed churn, and the ROI's net benefit, which is linear in both) is a mean
over test examples of a per-example value computed from an arm's seeds. For a weighted sum of such
statistics over arms (:func:`jackknife_parts`):

* **seed part**: the jackknife over seeds, leaving one seed out at a time; paired (the arms share their seeds)
  it leaves the same seed out of every arm at once, which keeps the correlation between arms and between
  accuracy and churn. For a mean the jackknife variance is exactly s²/n, so the accuracy difference gets the
  paired t (or, unpaired, Welch) variance. df: n − 1 per group, Satterthwaite across groups;
* **test part**: the per-example variance of the summed per-example values over N, less the seed noise that
  each per-example value still carries (its own jackknife variance over seeds, averaged over examples),
  clamped at 0; df N − 1;
* the interval: :class:`backend.analysis.stats.VarianceParts` (t with Satterthwaite's df of the two parts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backend.analysis.stats import VarianceParts, satterthwaite

MIN_CHURN_SEEDS = 3  # churn is a mean over seed pairs: leaving one seed out must leave a pair


@dataclass(frozen=True, eq=False)
class SeedStatistic:
    """One arm's statistic with all its seeds and with each seed left out, overall and per test example.

    ``per_example`` (N,) and ``loo_per_example`` (n, N) are None where the runs kept no test labels (only the
    seed part is then known).
    """

    seeds: tuple[int, ...]
    value: float
    loo: NDArray[np.float64]
    per_example: NDArray[np.float64] | None = None
    loo_per_example: NDArray[np.float64] | None = None


def accuracy_statistic(
    seeds: Sequence[int], accuracies: Sequence[float], correct: NDArray[np.bool_] | None = None
) -> SeedStatistic | None:
    """Accuracy over seeds from each seed's final test accuracy and, where known, its per-example
    correctness (n, N). None below two seeds."""
    acc = np.asarray(accuracies, dtype=float)
    n = acc.size
    if n < 2:
        return None
    loo = (acc.sum() - acc) / (n - 1)
    if correct is None:
        return SeedStatistic(tuple(seeds), float(acc.mean()), loo)
    hits = correct.astype(float)
    return SeedStatistic(tuple(seeds), float(acc.mean()), loo, hits.mean(axis=0), (hits.sum(axis=0) - hits) / (n - 1))


def churn_statistic(seeds: Sequence[int], predictions: NDArray[np.int64]) -> SeedStatistic | None:
    """Seed churn (the mean over seed pairs of the share of test examples whose predictions differ) from
    predictions (n, N). None below ``MIN_CHURN_SEEDS`` seeds."""
    n = predictions.shape[0]
    if n < MIN_CHURN_SEEDS:
        return None
    # differing[s, x]: with how many other seeds seed s disagrees on example x (n passes over (n, N)).
    differing = np.stack([(predictions != predictions[s]).sum(axis=0) for s in range(n)]).astype(float)
    total = differing.sum(axis=0) / 2  # differing pairs per example
    per_example = total / (n * (n - 1) / 2)
    loo_per_example = (total - differing) / ((n - 1) * (n - 2) / 2)
    return SeedStatistic(
        tuple(seeds), float(per_example.mean()), loo_per_example.mean(axis=1), per_example, loo_per_example
    )


def _jackknife(loo: NDArray[np.float64]) -> NDArray[np.float64]:
    """Jackknife variance over the first axis of leave-one-out values: (n − 1)/n · Σ (θ₍ₛ₎ − θ̄)²."""
    n = loo.shape[0]
    return np.asarray((n - 1) / n * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0), dtype=float)


Term = tuple[float, SeedStatistic]


def jackknife_parts(groups: Sequence[Sequence[Term]]) -> VarianceParts:
    """Σ weight · statistic over every term, with its seed and test-set parts (module docstring).

    A group holds terms whose seeds are left out together: one group for paired arms, one per arm
    otherwise (groups are independent of each other).
    """
    terms = [term for group in groups for term in group]
    estimate = float(sum(w * s.value for w, s in terms))
    seed_parts = []
    for group in groups:
        loo = sum((w * s.loo for w, s in group), start=np.zeros(len(group[0][1].seeds)))
        seed_parts.append((float(_jackknife(loo)), len(group[0][1].seeds) - 1.0))
    seed_var = float(sum(v for v, _ in seed_parts))
    sizes = {s.per_example.size if s.per_example is not None else 0 for _, s in terms}
    if len(sizes) != 1 or (size := sizes.pop()) < 2:
        return VarianceParts(estimate, seed_var, satterthwaite(seed_parts))
    per_example = sum((w * s.per_example for w, s in terms if s.per_example is not None), start=np.zeros(size))
    noise = np.zeros(size)
    for group in groups:
        loo_x = sum(
            (w * s.loo_per_example for w, s in group if s.loo_per_example is not None),
            start=np.zeros((len(group[0][1].seeds), size)),
        )
        noise += _jackknife(loo_x)
    test_var = max(0.0, (float(per_example.var(ddof=1)) - float(noise.mean())) / size)
    return VarianceParts(estimate, seed_var, satterthwaite(seed_parts), test_var, size - 1.0, size)


@dataclass(frozen=True, eq=False)
class Contrast:
    """One arm against the baseline: each side's accuracy and churn statistics, paired when seeds match.

    ``parts(w_acc, w_churn)`` is the interval model of ``w_acc · Δaccuracy + w_churn · Δchurn`` with
    Δaccuracy = arm − baseline and Δchurn = churn(baseline) − churn(arm) (fewer changed answers is better).
    """

    paired: bool
    arm_accuracy: SeedStatistic | None
    base_accuracy: SeedStatistic | None
    arm_churn: SeedStatistic | None = None
    base_churn: SeedStatistic | None = None

    def parts(self, w_acc: float = 1.0, w_churn: float = 0.0) -> VarianceParts | None:
        """None when a weighted statistic is not available on both sides (too few seeds)."""
        arm: list[Term] = []
        base: list[Term] = []
        for weight, mine, theirs in (
            (w_acc, self.arm_accuracy, self.base_accuracy),
            (-w_churn, self.arm_churn, self.base_churn),
        ):
            if weight == 0:
                continue
            if mine is None or theirs is None:
                return None
            arm.append((weight, mine))
            base.append((-weight, theirs))
        if not arm:
            return None
        return jackknife_parts([arm + base] if self.paired else [arm, base])
