"""The metric vocabulary: every metric a run records or a pilot reports, what it means and which way is better.

The research library writes these names (``rblock.train``: per epoch, and the final stability metrics),
the store keeps them as (key, epoch, value) points, and the analysis, figures and pages read them back.
The names are the stored keys, so renaming one here renames it in the database's future rows only: keep
them stable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Better(enum.StrEnum):
    """Which way a metric improves: the direction a comparison or a verdict reads it."""

    HIGHER = "higher"
    LOWER = "lower"
    NEITHER = "neither"  # a setting or a measurement, not a quality (the learning rate, the drop rate)


@dataclass(frozen=True)
class Metric:
    """One metric: its stored name, a label for figures, its meaning and reading.

    Attributes:
        curve: Recorded every epoch (a curve over training), not only at the end.
        share: A fraction in [0, 1]: confidence intervals of it are cut to that range.
        per_run: Recorded by each run; False for a pilot-level metric computed across seeds.
    """

    name: str
    label: str
    meaning: str
    better: Better
    curve: bool
    share: bool = False
    per_run: bool = True


TRAIN_LOSS = "train_loss"
TRAIN_ACC = "train_acc"
TEST_LOSS = "test_loss"
TEST_ACC = "test_acc"
LR = "lr"
DROP_RATE = "drop_rate"
EPOCH_SECONDS = "epoch_seconds"
SAMPLES_PER_SECOND = "samples_per_second"
CONSISTENCY_KL = "consistency_kl"
ECE = "ece"
NLL = "nll"
INCONSISTENCY_KL = "inconsistency_kl"
FLIP_RATE = "flip_rate"
SEED_CHURN = "seed_churn"

_ALL = (
    Metric(TRAIN_LOSS, "training loss", "mean training loss of the epoch's steps", Better.LOWER, curve=True),
    Metric(TRAIN_ACC, "training accuracy", "share of the epoch's training samples classified right", Better.HIGHER,
           curve=True, share=True),
    Metric(TEST_LOSS, "test loss", "cross-entropy of the deployed model on the test set", Better.LOWER, curve=True),
    Metric(TEST_ACC, "test accuracy", "share of the test set the deployed model classifies right", Better.HIGHER,
           curve=True, share=True),
    Metric(LR, "learning rate", "the optimizer's learning rate at the epoch's end", Better.NEITHER, curve=True),
    Metric(DROP_RATE, "drop rate", "mean share of activations the drop layers removed", Better.NEITHER, curve=True,
           share=True),
    Metric(EPOCH_SECONDS, "epoch seconds", "device time of the epoch's training steps", Better.LOWER, curve=True),
    Metric(SAMPLES_PER_SECOND, "samples per second", "training samples per second of step time", Better.HIGHER,
           curve=True),
    Metric(CONSISTENCY_KL, "consistency KL (nats)", "the two-pass arms' mean KL between their two sub-models",
           Better.LOWER, curve=True),
    Metric(ECE, "ECE", "expected calibration error (15 equal-width bins)", Better.LOWER, curve=False, share=True),
    Metric(NLL, "NLL", "mean negative log-likelihood on the test set", Better.LOWER, curve=False),
    Metric(INCONSISTENCY_KL, "inconsistency KL (nats)", "KL from the deployed model to its sampled sub-models",
           Better.LOWER, curve=False),
    Metric(FLIP_RATE, "flip rate", "share of test predictions a sampled sub-model changes", Better.LOWER,
           curve=False, share=True),
    Metric(SEED_CHURN, "seed churn", "share of test predictions that differ between two seeds' final models",
           Better.LOWER, curve=False, share=True, per_run=False),
)  # fmt: skip
METRICS: Mapping[str, Metric] = {metric.name: metric for metric in _ALL}

# Curves: what a run writes every epoch (and the pages and figures may draw over training).
CURVE_METRICS = tuple(m.name for m in _ALL if m.curve)
# Shares: intervals of them are cut to [0, 1] (a t-interval of 99% accuracy over 3 seeds otherwise reads
# "98.21% - 100.31%").
SHARE_METRICS = frozenset(m.name for m in _ALL if m.share)
# The final model's stability and calibration, summarised per arm beside accuracy and cost.
STABILITY_KEYS = (INCONSISTENCY_KL, FLIP_RATE, ECE, NLL)
