"""The metric vocabulary: names, reading and which are curves, and that training writes exactly its names."""

from __future__ import annotations

from pilot_spec.metrics import (
    CURVE_METRICS,
    METRICS,
    SHARE_METRICS,
    STABILITY_KEYS,
    TEST_ACC,
    TRAIN_LOSS,
    Better,
)


def test_the_vocabulary_reads_each_metric_one_way() -> None:
    assert METRICS[TEST_ACC].better == Better.HIGHER and METRICS[TRAIN_LOSS].better == Better.LOWER
    assert {TEST_ACC, TRAIN_LOSS} <= set(CURVE_METRICS)
    assert not set(STABILITY_KEYS) & set(CURVE_METRICS)  # the final model's, written at evaluation epochs
    assert {"train_acc", "test_acc", "flip_rate", "ece", "drop_rate"} <= SHARE_METRICS
    assert all(name == metric.name and metric.label and metric.meaning for name, metric in METRICS.items())
