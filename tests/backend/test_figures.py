"""Figures: the expected traces, axis titles and one colour per arm, from a real summary."""

from __future__ import annotations

import json

import pytest

from backend.analysis.summary import build_summary
from backend.figures import FIGURES, build_figure
from backend.figures.style import MAX_POINTS_PER_LINE, downsample
from backend.store.entities import MetricPoint
from pilot_spec.analysis import PilotAnalysis
from tests.support.analysis import make_pilot, make_run


@pytest.fixture
def summary() -> PilotAnalysis:
    pilot = make_pilot({"none": {}, "dropblock": {"drop_prob": 0.1}, "rblock_s": {"drop_prob": 0.1}})
    cells = [(k, arm, s) for k, arm in enumerate(("none", "dropblock", "rblock_s")) for s in range(3)]
    runs = [make_run(i, arm, s, 0.9 + 0.01 * s + 0.01 * k, hours=0.01 * (k + 1)) for i, (k, arm, s) in enumerate(cells)]
    keys = ("test_acc", "train_loss")
    points = [MetricPoint(r.id, key, e, 0.5 + 0.1 * e) for r in runs for e in (1, 2, 3) for key in keys]
    return build_summary(pilot, runs, points, prices={"cpu": 1.0})


def test_every_figure_builds_and_serialises(summary: PilotAnalysis) -> None:
    for name in FIGURES:
        fig = build_figure(name, summary)
        json.loads(fig.to_json())
        assert fig.layout.title.text


def test_accuracy_curves_have_a_band_and_a_line_per_arm_with_stable_colours(summary: PilotAnalysis) -> None:
    fig = build_figure("accuracy_curves", summary)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert [t.name for t in lines] == ["none", "dropblock", "rblock_s"]
    assert len(fig.data) == 6 and fig.layout.xaxis.title.text == "epoch"
    assert fig.layout.yaxis.title.text == "test accuracy"
    colours = {t.name: t.line.color for t in lines}
    again = {t.name: t.marker.color for t in build_figure("accuracy_vs_cost", summary).data if t.name in colours}
    assert colours == again


def test_cost_figure_has_units_and_pareto_front(summary: PilotAnalysis) -> None:
    fig = build_figure("accuracy_vs_cost", summary)
    assert fig.layout.xaxis.title.text == "device-hours per run"
    assert any(t.name == "Pareto front" for t in fig.data)
    roi = build_figure("roi", summary)
    assert roi.layout.yaxis.title.text == "net per year (currency)"


def test_unknown_figure_lists_names(summary: PilotAnalysis) -> None:
    with pytest.raises(KeyError, match="accuracy_curves"):
        build_figure("pie", summary)


def test_downsample_keeps_ends_and_caps_points() -> None:
    xs = list(range(10_000))
    (kept,) = downsample(xs)
    assert len(kept) == MAX_POINTS_PER_LINE and kept[0] == 0 and kept[-1] == 9_999
