"""From an arm's finished runs to the seed statistics the intervals use (``backend.analysis.variance``).

Runs stored before migration 0005 have predictions but no test labels: their accuracy keeps a seed-only
interval (with a note), while churn, which needs only predictions, keeps its per-example part.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from backend.analysis.variance import Contrast, SeedStatistic, accuracy_statistic, churn_statistic
from backend.store.entities import Run, RunStatus
from pilot_spec.metrics import TEST_ACC

NO_LABELS = "runs without stored test labels: the interval covers the seeds only, not the test set's size"
OTHER_TEST_SET = "the arms were tested on different test sets: the interval covers the seeds only"


@dataclass(frozen=True, eq=False)
class ArmSamples:
    """An arm's succeeded runs with a final test accuracy, by seed: accuracies, predictions (n, N) where
    every run kept them at one length, and the test labels (N,) where every run kept the same ones."""

    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]
    predictions: NDArray[np.int64] | None
    labels: NDArray[np.int64] | None

    def accuracy(self, labels: NDArray[np.int64] | None) -> SeedStatistic | None:
        """Accuracy over seeds; per example when ``labels`` (the test set both sides share) is given."""
        correct = None if labels is None or self.predictions is None else self.predictions == labels
        return accuracy_statistic(self.seeds, self.accuracies, correct)

    def churn(self) -> SeedStatistic | None:
        return None if self.predictions is None else churn_statistic(self.seeds, self.predictions)


def _same_length(vectors: Sequence[Sequence[int] | None]) -> NDArray[np.int64] | None:
    if not vectors or any(not v for v in vectors) or len({len(v or ()) for v in vectors}) != 1:
        return None
    return np.asarray(vectors, dtype=np.int64)


@dataclass(frozen=True)
class RunSet:
    """Runs compared (and hashed) by what identifies their results: a finished run's results change only
    when it is retried, which changes its attempts and finish time. Lets the arrays below be memoised."""

    key: tuple[tuple[object, ...], ...]
    runs: tuple[Run, ...] = field(compare=False, hash=False)

    @classmethod
    def of(cls, runs: Sequence[Run]) -> RunSet:
        return cls(tuple(_identity(r) for r in runs), tuple(runs))


def _identity(run: Run) -> tuple[object, ...]:
    # Beside the run's identity, a cheap sample of its results: two databases (tests, a restored backup)
    # can hold runs of the same id, attempt and finish time with other results.
    predictions, labels = run.predictions or [], run.test_labels or []
    return (
        run.pilot_id, run.id, run.arm, run.seed, run.status, run.attempts, run.finished_at,
        (run.final_metrics or {}).get(TEST_ACC), len(predictions), len(labels),
        tuple(predictions[:: max(1, len(predictions) // 16)]), tuple(labels[:: max(1, len(labels) // 16)]),
    )  # fmt: skip


def arm_samples(runs: Sequence[Run]) -> ArmSamples:
    """``runs`` of one arm (any status); the succeeded ones with a test accuracy, in seed order."""
    return _arm_samples(RunSet.of(runs))


@functools.lru_cache(maxsize=256)
def _arm_samples(run_set: RunSet) -> ArmSamples:
    # Memoised: turning thousands of stored integers per run into arrays is most of a summary's time, and
    # every view of a finished pilot asks for the same again.
    runs = run_set.runs
    done = sorted(
        (
            r
            for r in runs
            if r.status == RunStatus.SUCCEEDED and r.final_metrics and r.final_metrics.get(TEST_ACC) is not None
        ),
        key=lambda r: r.seed,
    )
    predictions = _same_length([r.predictions for r in done])
    labels = _same_length([r.test_labels for r in done])
    same_test_set = (
        labels is not None
        and predictions is not None
        and labels.shape == predictions.shape
        and bool((labels == labels[0]).all())
    )
    return ArmSamples(
        seeds=tuple(r.seed for r in done),
        accuracies=tuple(float((r.final_metrics or {})[TEST_ACC]) for r in done),
        predictions=predictions,
        labels=labels[0] if same_test_set and labels is not None else None,
    )


def contrast(mine: ArmSamples, base: ArmSamples) -> tuple[Contrast, str]:
    """The arm against the baseline, paired when both finished the same seeds (two or more), with a note
    when the test set's part cannot be included."""
    paired = len(mine.seeds) >= 2 and mine.seeds == base.seeds
    labels, note = mine.labels, ""
    if mine.labels is None or base.labels is None:
        labels, note = None, NO_LABELS
    elif not np.array_equal(mine.labels, base.labels):
        labels, note = None, OTHER_TEST_SET
    # Churn needs predictions only; test sets of different sizes leave it the seed part (jackknife_parts).
    return Contrast(paired, mine.accuracy(labels), base.accuracy(labels), mine.churn(), base.churn()), note
