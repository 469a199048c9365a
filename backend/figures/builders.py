"""Figure builders: each takes a pilot's analysis (``pilot_spec.analysis.PilotAnalysis``) and returns a figure.

Names: ``accuracy_curves``, ``loss_curves``, ``accuracy_vs_cost``, ``cost_per_run``, ``stability``, ``roi``.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.figures.style import arm_colours, arm_label, downsample, layout, rgba
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.metrics import ECE, FLIP_RATE, INCONSISTENCY_KL, METRICS, SEED_CHURN, TEST_ACC, TRAIN_LOSS


def _curve_figure(summary: PilotAnalysis, key: str, title: str, y_title: str) -> go.Figure:
    colours = arm_colours(summary.arms)
    fig = go.Figure()
    for arm in summary.arms:
        name = arm.arm
        series = summary.curves.get(name, {}).get(key, [])
        if not series:
            continue
        xs, mean, low, high = downsample(
            [p.epoch for p in series],
            [p.mean for p in series],
            [p.ci_low if p.ci_low is not None else p.mean for p in series],
            [p.ci_high if p.ci_high is not None else p.mean for p in series],
        )
        colour, shown = colours[name], arm_label(name)
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1], y=high + low[::-1], fill="toself", fillcolor=rgba(colour, 0.15),
                line={"width": 0}, hoverinfo="skip", showlegend=False, legendgroup=shown, name=f"{shown} 95% CI",
            )
        )  # fmt: skip
        fig.add_trace(go.Scatter(x=xs, y=mean, mode="lines", name=shown, line={"color": colour}, legendgroup=shown))
    fig.update_layout(**layout(title, "epoch", y_title))
    return fig


def accuracy_curves(summary: PilotAnalysis) -> go.Figure:
    return _curve_figure(summary, TEST_ACC, "Test accuracy over training (mean and 95% CI over seeds)", "test accuracy")


def loss_curves(summary: PilotAnalysis) -> go.Figure:
    return _curve_figure(summary, TRAIN_LOSS, "Training loss (mean and 95% CI over seeds)", "training loss")


def accuracy_vs_cost(summary: PilotAnalysis) -> go.Figure:
    colours = arm_colours(summary.arms)
    fig = go.Figure()
    arms = [a for a in summary.arms if a.test_acc.mean is not None]
    for arm in arms:
        acc, shown = arm.test_acc, arm_label(arm.arm)
        error = None
        if acc.mean is not None and acc.ci_low is not None and acc.ci_high is not None:
            error = {"type": "data", "symmetric": False, "array": [acc.ci_high - acc.mean],
                     "arrayminus": [acc.mean - acc.ci_low]}  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=[arm.device_hours.mean], y=[acc.mean], mode="markers+text", text=[shown],
                textposition="top center", name=shown, marker={"size": 12, "color": colours[arm.arm]},
                error_y=error,
            )
        )  # fmt: skip
    front = [a for name in summary.pareto_front for a in arms if a.arm == name]
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[a.device_hours.mean for a in front], y=[a.test_acc.mean for a in front],
                mode="lines", name="Pareto front", line={"dash": "dash", "color": "#111827"},
            )
        )  # fmt: skip
    fig.update_layout(**layout("Final test accuracy against training cost", "device-hours per run", "test accuracy"))
    fig.update_layout(hovermode="closest")
    return fig


def cost_per_run(summary: PilotAnalysis) -> go.Figure:
    colours = arm_colours(summary.arms)
    names = [a.arm for a in summary.arms]
    fig = go.Figure(
        go.Bar(
            x=[arm_label(n) for n in names], y=[a.cost for a in summary.arms],
            marker={"color": [colours[n] for n in names]},
            text=[None if a.cost is None else f"{a.cost:.4f}" for a in summary.arms], name="cost per run",
        )
    )  # fmt: skip
    fig.update_layout(**layout("Training cost per run (mean over seeds)", "arm", "cost per run (currency)"))
    return fig


_STABILITY = tuple((key, METRICS[key].label) for key in (INCONSISTENCY_KL, FLIP_RATE, ECE, SEED_CHURN))


def stability(summary: PilotAnalysis) -> go.Figure:
    colours = arm_colours(summary.arms)
    fig = make_subplots(rows=1, cols=len(_STABILITY), subplot_titles=[label for _, label in _STABILITY])
    for column, (key, label) in enumerate(_STABILITY, start=1):
        names, values = [], []
        for arm in summary.arms:
            value = arm.seed_churn if key == SEED_CHURN else arm.stability.get(key)
            names.append(arm.arm)
            values.append(value)
        fig.add_trace(
            go.Bar(x=[arm_label(n) for n in names], y=values, marker={"color": [colours[n] for n in names]}, name=label,
                   showlegend=False),
            row=1, col=column,
        )  # fmt: skip
        fig.update_yaxes(title_text=label, row=1, col=column)
        fig.update_xaxes(title_text="arm", row=1, col=column)
    fig.update_layout(title={"text": "Output stability per arm (lower is more stable)"}, template="plotly_white")
    return fig


def _distance(high: float | None, low: float | None) -> float | None:
    """An error bar's length from an interval's bound to its value; None where either is undefined."""
    return None if high is None or low is None else high - low


def roi(summary: PilotAnalysis) -> go.Figure:
    colours = arm_colours(summary.arms)
    rows = summary.roi
    names = [r.arm for r in rows]
    net = [r.net_per_year.value for r in rows]
    plus = [_distance(r.net_per_year.high, r.net_per_year.value) for r in rows]
    minus = [_distance(r.net_per_year.value, r.net_per_year.low) for r in rows]
    fig = go.Figure(
        go.Bar(
            x=[arm_label(n) for n in names], y=net, marker={"color": [colours.get(n, "#111827") for n in names]},
            error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
            text=[r.verdict for r in rows], textposition="outside", name="net benefit per year",
        )
    )  # fmt: skip
    fig.add_hline(y=0, line={"color": "#111827", "dash": "dot"}, annotation_text="break-even")
    fig.update_layout(
        **layout(
            f"Net benefit per year against {arm_label(summary.baseline_arm)} (95% bounds)",
            "arm",
            "net per year (currency)",
        )
    )
    return fig


FIGURES: dict[str, Callable[[PilotAnalysis], go.Figure]] = {
    "accuracy_curves": accuracy_curves,
    "loss_curves": loss_curves,
    "accuracy_vs_cost": accuracy_vs_cost,
    "cost_per_run": cost_per_run,
    "stability": stability,
    "roi": roi,
}
# The per-epoch curves (PilotAnalysis.curves) each figure draws: a summary made for these figures only needs these.
FIGURE_CURVES: dict[str, list[str]] = {"accuracy_curves": [TEST_ACC], "loss_curves": [TRAIN_LOSS]}


def build_figure(name: str, summary: PilotAnalysis) -> go.Figure:
    """The figure called ``name``; ``KeyError`` lists the known names."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}: use one of {', '.join(FIGURES)}")
    return FIGURES[name](summary)
