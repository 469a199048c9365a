"""Figures: the expected traces, axis titles and one colour per arm, from a real summary."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from backend.analysis.summary import build_summary
from backend.figures import FIGURES, build_figure
from backend.figures.style import MAX_POINTS_PER_LINE, downsample, value_axis, value_bounds
from backend.store.entities import MetricPoint
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.colours import BASELINE_GREY, KIND_COLOURS, arm_colours
from pilot_spec.metrics import TEST_ACC
from pilot_spec.money import Currency
from tests.support.analysis import finished_pilot, make_pilot, make_run
from tests.support.api import API, Api


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
    assert roi.layout.yaxis.title.text == "net per year (USD)"  # the CURRENCY code
    euro = Currency.parse("EUR:€")
    assert build_figure("roi", summary, currency=euro).layout.yaxis.title.text == "net per year (EUR)"
    costs = build_figure("cost_per_run", summary, currency=euro)
    assert costs.layout.yaxis.title.text == "cost per run (EUR)"
    assert all(text is None or "€" in text for text in costs.data[0].text)  # amounts as money, never 7.5e-05


def test_unknown_figure_lists_names(summary: PilotAnalysis) -> None:
    with pytest.raises(KeyError, match="accuracy_curves"):
        build_figure("pie", summary)


def test_downsample_keeps_ends_and_caps_points() -> None:
    xs = list(range(10_000))
    (kept,) = downsample(xs)
    assert len(kept) == MAX_POINTS_PER_LINE and kept[0] == 0 and kept[-1] == 9_999


# --- issue 16: one colour per arm, axes inside what a value can be, the stability panels stacked ----------


@pytest.fixture
def near_one() -> PilotAnalysis:
    """Accuracy close to 1 with seeds far apart; the baseline is a dropout arm (grey however its kind), and a
    "none" arm is not the baseline. The analysis cuts share intervals to [0, 1] itself: the intervals are
    then widened past both ends, as an analysis that did not would give them, and seed churn left
    unmeasured (no stored test labels)."""
    arms = {"dropout": {"drop_prob": 0.1}, "none": {}, "rblock_s": {"drop_prob": 0.1}}
    pilot = make_pilot(arms, baseline="dropout")
    accs = {"dropout": (0.95, 0.99, 1.0), "none": (0.9, 0.99, 1.0), "rblock_s": (0.97, 1.0, 1.0)}
    runs = [
        make_run(3 * k + s, arm, s, accs[arm][s], hours=0.001 * (k + 1), extra={"inconsistency_kl": 0.01 * k})
        for k, arm in enumerate(arms)
        for s in range(3)
    ]
    points = [MetricPoint(r.id, TEST_ACC, e, 0.95 + 0.02 * e) for r in runs for e in (0, 1, 2)]
    summary = build_summary(pilot, runs, points, prices={"cpu": 1.0})
    widened = {
        arm: {key: [p.model_copy(update={"ci_low": p.mean - 0.99, "ci_high": p.mean + 0.05}) for p in series]
              for key, series in curves.items()}
        for arm, curves in summary.curves.items()
    }  # fmt: skip
    arms_out = [
        a.model_copy(
            update={"seed_churn": None, "test_acc": a.test_acc.model_copy(update={"ci_low": -0.1, "ci_high": 1.1})}
        )
        for a in summary.arms
    ]
    return summary.model_copy(update={"curves": widened, "arms": arms_out})


def _arm_colour_of(trace: Any) -> str:
    return str(trace.marker.color if trace.type == "bar" or trace.mode == "markers" else trace.line.color)


def test_every_figure_colours_each_arm_as_the_one_table_does(near_one: PilotAnalysis) -> None:
    expected = arm_colours(((arm.arm, arm.regularizer) for arm in near_one.arms), baseline="dropout")
    assert expected["dropout"] == BASELINE_GREY and expected["none"] != BASELINE_GREY
    assert expected["rblock_s"] == KIND_COLOURS["rblock_s"]
    for name in ("accuracy_curves", "accuracy_vs_cost", "stability"):
        fig = build_figure(name, near_one)
        drawn = {t.name: _arm_colour_of(t) for t in fig.data if t.name in expected}
        assert drawn == expected, name
    cost = build_figure("cost_per_run", near_one).data[0]
    assert dict(zip(cost.x, cost.marker.color, strict=True)) == expected


def test_curve_bands_and_error_bars_are_cut_to_the_share_range(near_one: PilotAnalysis) -> None:
    assert max(p.ci_high or 0.0 for p in near_one.curves["none"][TEST_ACC]) > 1  # uncut, it would pass 1
    curves = build_figure("accuracy_curves", near_one)
    bands = [t for t in curves.data if t.fill == "toself"]
    assert bands and all(0 <= y <= 1 for t in bands for y in t.y)
    assert {t.mode for t in bands} == {"none"}  # no markers in plotly's colorway at the band's corners
    assert curves.layout.yaxis.autorangeoptions.clipmin == 0
    assert curves.layout.yaxis.autorangeoptions.clipmax == 1
    assert curves.layout.xaxis.dtick == 1  # three epochs: no tick at half an epoch

    scatter = build_figure("accuracy_vs_cost", near_one)
    bars = [t for t in scatter.data if t.error_y and t.error_y.array]
    assert len(bars) == 3
    for trace in bars:
        assert trace.y[0] + trace.error_y.array[0] == pytest.approx(1.0)
        assert trace.y[0] - trace.error_y.arrayminus[0] == pytest.approx(0.0)
    assert scatter.layout.xaxis.autorangeoptions.clipmin == 0  # device-hours
    assert scatter.layout.xaxis.autorangeoptions.clipmax is None
    assert scatter.layout.yaxis.autorangeoptions.clipmax == 1
    assert build_figure("cost_per_run", near_one).layout.yaxis.autorangeoptions.clipmin == 0


def test_value_bounds_follow_the_metric_vocabulary() -> None:
    assert value_bounds(TEST_ACC) == (0.0, 1.0) and value_bounds("flip_rate") == (0.0, 1.0)
    assert value_bounds("test_loss") == (0.0, None) and value_bounds("device_hours") == (0.0, None)
    assert value_bounds("net_per_year") == (None, None)
    assert value_axis("net_per_year") == {}


def test_stability_panels_stack_in_one_column_without_overlap(near_one: PilotAnalysis) -> None:
    wide = build_figure("stability", near_one)
    assert {wide.layout[f"yaxis{i or ''}"].domain for i in (0, 2, 3, 4)} == {(0.0, 1.0)}
    assert wide.layout.yaxis2.autorangeoptions.clipmax == 1  # flip rate, a share
    stacked = build_figure("stability", near_one, columns=1)
    domains = sorted(stacked.layout[f"yaxis{i or ''}"].domain for i in (0, 2, 3, 4))
    assert all(low < high <= next_low for (low, high), (next_low, _) in itertools.pairwise(domains))
    assert {stacked.layout[f"xaxis{i or ''}"].domain for i in (0, 2, 3, 4)} == {(0.0, 1.0)}
    assert stacked.layout.height > wide.layout.height
    # Seed churn is not measured here: a share's range, not plotly's -1 to 4 for an empty axis.
    assert wide.layout.yaxis4.range == (0.0, 1.0)
    # One legend entry per arm, in its colour.
    assert [t.name for t in wide.data if t.showlegend] == [arm.arm for arm in near_one.arms]


def test_the_figure_api_stacks_the_stability_panels_and_refuses_bad_columns(api: Api) -> None:
    pilot = finished_pilot(api)
    url = f"{API}/pilots/{pilot['id']}/figures/stability"
    stacked = api.client.get(url, params={"columns": 1}).json()["layout"]
    assert stacked["yaxis"]["domain"] != stacked["yaxis2"]["domain"]
    side_by_side = api.client.get(url).json()["layout"]
    assert side_by_side["yaxis"]["domain"] == side_by_side["yaxis2"]["domain"]
    for bad in ("0", "5", "two"):
        refused = api.client.get(url, params={"columns": bad})
        assert refused.status_code == 422 and "columns" in refused.text, refused.text
