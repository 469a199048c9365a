"""Figure builders: each takes a pilot's analysis (``pilot_spec.analysis.PilotAnalysis``) and returns a figure.

Names: ``accuracy_curves``, ``loss_curves``, ``accuracy_vs_cost``, ``cost_per_run``, ``stability``, ``roi``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.figures.style import (
    COST,
    DEVICE_HOURS,
    arm_colours,
    arm_label,
    clip,
    downsample,
    layout,
    rgba,
    value_axis,
    value_bounds,
)
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.metrics import ECE, FLIP_RATE, INCONSISTENCY_KL, METRICS, SEED_CHURN, TEST_ACC, TRAIN_LOSS
from pilot_spec.money import DEFAULT_CURRENCY, Currency, format_money

WHOLE_EPOCH_TICKS_UP_TO = 12  # epochs: a tick at each (frontend/static/charts.js epochAxis does the same)


def _curve_figure(summary: PilotAnalysis, key: str, title: str, y_title: str) -> go.Figure:
    colours = arm_colours(summary)
    fig = go.Figure()
    for arm in summary.arms:
        name = arm.arm
        series = summary.curves.get(name, {}).get(key, [])
        if not series:
            continue
        xs, mean, low, high = downsample(
            [p.epoch for p in series],
            [p.mean for p in series],
            # The band cut to the metric's range: a t-interval of 99% accuracy over 3 seeds passes 1.
            [clip(p.ci_low if p.ci_low is not None else p.mean, key) for p in series],
            [clip(p.ci_high if p.ci_high is not None else p.mean, key) for p in series],
        )
        colour, shown = colours[name], arm_label(name)
        # The band's fill only: plotly's default mode also drew a marker at each of its corners, coloured from
        # plotly's own colorway (red among them), not the arm's.
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1], y=high + low[::-1], mode="none", fill="toself", fillcolor=rgba(colour, 0.15),
                line={"width": 0}, hoverinfo="skip", showlegend=False, legendgroup=shown, name=f"{shown} 95% CI",
            )
        )  # fmt: skip
        fig.add_trace(go.Scatter(x=xs, y=mean, mode="lines", name=shown, line={"color": colour}, legendgroup=shown))
    fig.update_layout(**layout(title, "epoch", y_title, y_key=key))
    last_epoch = max((p.epoch for curves in summary.curves.values() for p in curves.get(key, [])), default=0)
    if last_epoch <= WHOLE_EPOCH_TICKS_UP_TO:
        # plotly's own steps on a short run are halves ("0.5 epoch"); above a dozen they are whole already.
        fig.update_xaxes(tickmode="linear", tick0=0, dtick=1)
    return fig


def accuracy_curves(summary: PilotAnalysis) -> go.Figure:
    return _curve_figure(summary, TEST_ACC, "Test accuracy over training (mean and 95% CI over seeds)", "test accuracy")


def loss_curves(summary: PilotAnalysis) -> go.Figure:
    return _curve_figure(summary, TRAIN_LOSS, "Training loss (mean and 95% CI over seeds)", "training loss")


# Lines that are not arms (the Pareto front, break-even): a mid grey-blue, no arm's colour, that reads on the
# light and the dark page alike.
NEUTRAL_LINE = "#7A869A"


def accuracy_vs_cost(summary: PilotAnalysis) -> go.Figure:
    colours = arm_colours(summary)
    fig = go.Figure()
    arms = [a for a in summary.arms if a.test_acc.mean is not None]
    for arm in arms:
        acc, shown = arm.test_acc, arm_label(arm.arm)
        error = None
        low, high = clip(acc.ci_low, TEST_ACC), clip(acc.ci_high, TEST_ACC)
        if acc.mean is not None and low is not None and high is not None:
            # Cut to [0, 1] like the axis: a bar past 100% would read as possible accuracy.
            error = {"type": "data", "symmetric": False, "array": [high - acc.mean], "arrayminus": [acc.mean - low]}
        # No text beside the markers: arms close in cost and accuracy wrote their names over each other; the
        # legend (in the arms' colours) and the hover name them.
        fig.add_trace(
            go.Scatter(
                x=[arm.device_hours.mean], y=[acc.mean], mode="markers", name=shown,
                marker={"size": 12, "color": colours[arm.arm]}, error_y=error,
                hovertemplate=f"{shown}<br>%{{x:.4g}} device-h, accuracy %{{y:.4f}}<extra></extra>",
            )
        )  # fmt: skip
    front = [a for name in summary.pareto_front for a in arms if a.arm == name]
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[a.device_hours.mean for a in front], y=[a.test_acc.mean for a in front],
                mode="lines", name="Pareto front", line={"dash": "dash", "color": NEUTRAL_LINE},
            )
        )  # fmt: skip
    fig.update_layout(
        **layout(
            "Final test accuracy against training cost", "device-hours per run", "test accuracy",
            x_key=DEVICE_HOURS, y_key=TEST_ACC,
        )
    )  # fmt: skip
    fig.update_layout(hovermode="closest")
    return fig


def cost_per_run(summary: PilotAnalysis, currency: Currency = DEFAULT_CURRENCY) -> go.Figure:
    colours = arm_colours(summary)
    names = [a.arm for a in summary.arms]
    fig = go.Figure(
        go.Bar(
            x=[arm_label(n) for n in names], y=[a.cost for a in summary.arms],
            marker={"color": [colours[n] for n in names]},
            text=[None if a.cost is None else format_money(a.cost, currency) for a in summary.arms],
            name="cost per run",
        )
    )  # fmt: skip
    y_title = f"cost per run ({currency.code})"
    fig.update_layout(**layout("Training cost per run (mean over seeds)", "arm", y_title, y_key=COST))
    return fig


STABILITY_ROW_HEIGHT = 260  # pixels per row of panels
_STABILITY = tuple((key, METRICS[key].label) for key in (INCONSISTENCY_KL, FLIP_RATE, ECE, SEED_CHURN))


def stability(summary: PilotAnalysis, columns: int = len(_STABILITY)) -> go.Figure:
    """The four stability panels, ``columns`` to a row (1 stacks them, for a phone: four side by side in 390 px
    wrote their labels over each other). A bar trace per arm, its legend entry once: the arms are named by
    the legend in their colours, not by tick labels under every panel."""
    colours = arm_colours(summary)
    columns = max(1, min(columns, len(_STABILITY)))
    rows = math.ceil(len(_STABILITY) / columns)
    fig = make_subplots(
        rows=rows, cols=columns, subplot_titles=[label for _, label in _STABILITY],
        horizontal_spacing=0.08, vertical_spacing=0.3 / rows if rows > 1 else 0.2,
    )  # fmt: skip
    for index, (key, label) in enumerate(_STABILITY):
        row, column = divmod(index, columns)
        values = [arm.seed_churn if key == SEED_CHURN else arm.stability.get(key) for arm in summary.arms]
        for arm, value in zip(summary.arms, values, strict=True):
            shown = arm_label(arm.arm)
            fig.add_trace(
                go.Bar(
                    x=[shown], y=[value], name=shown, marker={"color": colours[arm.arm]}, legendgroup=shown,
                    showlegend=index == 0, hovertemplate=f"{shown}: %{{y:.4g}}<extra>{label}</extra>",
                ),
                row=row + 1, col=column + 1,
            )  # fmt: skip
        axis = value_axis(key)
        if all(value is None for value in values):
            # Plotly draws an empty axis from -1 to 4 whatever its clip: the metric's own range, and say why.
            low, high = value_bounds(key)
            axis = {"range": [low or 0.0, 1.0 if high is None else high]}
            fig.add_annotation(
                text="not measured", showarrow=False, x=0.5, y=0.5, xref="x domain", yref="y domain",
                row=row + 1, col=column + 1,
            )  # fmt: skip
        fig.update_yaxes(row=row + 1, col=column + 1, automargin=True, **axis)
        fig.update_xaxes(row=row + 1, col=column + 1, showticklabels=False)
    # The legend under the panels (they have no tick labels there): above them it met the title or the panels'
    # titles whenever the figure was drawn at another height than its own (the report draws it at 560 px).
    plot_height = STABILITY_ROW_HEIGHT * rows
    fig.update_layout(
        title={"text": "Output stability per arm (lower is more stable)"}, template="plotly_white", barmode="group",
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "left", "x": 0},
        margin={"l": 60, "r": 20, "t": 100, "b": 50}, height=plot_height + 150,
    )  # fmt: skip
    return fig


def _distance(high: float | None, low: float | None) -> float | None:
    """An error bar's length from an interval's bound to its value; None where either is undefined."""
    return None if high is None or low is None else high - low


def roi(summary: PilotAnalysis, currency: Currency = DEFAULT_CURRENCY) -> go.Figure:
    colours = arm_colours(summary)
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
    # The break-even line is named in the title, not by a label on it: the label ran into the verdicts.
    fig.add_hline(y=0, line={"color": NEUTRAL_LINE, "dash": "dot"})
    fig.update_layout(
        **layout(
            f"Net benefit per year against {arm_label(summary.baseline_arm)} <br>(95% bounds; dotted line: break-even)",
            "arm",
            f"net per year ({currency.code})",
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
MONEY_FIGURES: dict[str, Callable[[PilotAnalysis, Currency], go.Figure]] = {"cost_per_run": cost_per_run, "roi": roi}
# The per-epoch curves (PilotAnalysis.curves) each figure draws: a summary made for these figures only needs these.
FIGURE_CURVES: dict[str, list[str]] = {"accuracy_curves": [TEST_ACC], "loss_curves": [TRAIN_LOSS]}


def build_figure(
    name: str, summary: PilotAnalysis, *, columns: int | None = None, currency: Currency = DEFAULT_CURRENCY
) -> go.Figure:
    """The figure called ``name``; ``KeyError`` lists the known names. ``columns``: the panels per row of a
    figure of panels (stability), its default where None."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}: use one of {', '.join(FIGURES)}")
    if columns is not None and name == "stability":
        return stability(summary, columns)
    if name in MONEY_FIGURES:  # amounts in the deployment's CURRENCY, as on the page and in the reports
        return MONEY_FIGURES[name](summary, currency)
    return FIGURES[name](summary)
