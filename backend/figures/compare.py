"""The compare page's chart (issue 16): final test accuracy against cost per training run, one point per pilot
and arm, coloured by arm (``pilot_spec.colours``, the one table of every chart: the baseline grey) and marked
by pilot (a symbol each, named in the legend), so that no text label sits on the plot to overlap another."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from backend.figures.style import arm_label, layout
from pilot_spec import colours
from pilot_spec.analysis import ComparedArm, ComparedPilot, PilotComparison
from pilot_spec.money import format_money, format_number, format_percent

# One marker per pilot, told apart without colour too (as many as pilot_spec.compare.COMPARE_MAX): Plotly's
# symbol, and the character the page's table shows beside the pilot's name.
PILOT_SYMBOLS = (
    ("circle", "●"), ("square", "■"), ("diamond", "◆"), ("triangle-up", "▲"), ("cross", "✚"), ("x", "✖"),
    ("triangle-down", "▼"), ("star", "★"), ("pentagon", "⬟"), ("hexagon", "⬢"), ("triangle-left", "◀"),
    ("triangle-right", "▶"),
)  # fmt: skip
PILOT_MARKER_COLOUR = "#5d6677"  # the legend's pilot entries: a shape, not an arm's colour
LEGEND_NAME_MAX = 32


def pilot_symbol(index: int) -> str:
    """Plotly's marker symbol of the ``index``-th pilot."""
    return PILOT_SYMBOLS[index % len(PILOT_SYMBOLS)][0]


def pilot_glyph(index: int) -> str:
    """The character of the ``index``-th pilot's marker, for text beside the chart."""
    return PILOT_SYMBOLS[index % len(PILOT_SYMBOLS)][1]


def comparison_colours(comparison: PilotComparison) -> dict[str, str]:
    """Arm name -> colour across every pilot: arms of one name are one colour (the first pilot's regularizer
    kind decides), so that "rblock_s" looks the same in every pilot."""
    kinds: dict[str, str] = {}
    for pilot in comparison.pilots:
        for arm in pilot.arms:
            kinds.setdefault(arm.arm, arm.regularizer)
    return colours.arm_colours(kinds.items())


def pilot_legend_name(pilot: ComparedPilot) -> str:
    name = pilot.name if len(pilot.name) <= LEGEND_NAME_MAX else pilot.name[: LEGEND_NAME_MAX - 1] + "…"
    return arm_label(f"#{pilot.id} {name}")


def _hover(pilot: ComparedPilot, arm: ComparedArm, comparison: PilotComparison) -> str:
    cost = format_money(arm.cost, comparison.currency.currency())
    text = (
        f"{arm_label(pilot.name)} (#{pilot.id})<br>{arm_label(arm.arm)}: {format_percent(arm.test_acc)} test accuracy"
        f"<br>{cost} per run ({format_number(arm.device_hours)} device-h)"
    )
    if arm.verdict is not None:
        text += f"<br>verdict: {arm.verdict}"
    return text


def _decimals(largest: float) -> int:
    """Tick decimals that show two significant digits of the largest cost (0.00012 → 5), at least cents."""
    if largest <= 0:
        return 2
    return max(2, min(12, 1 - math.floor(math.log10(largest))))


def accuracy_against_cost(comparison: PilotComparison) -> go.Figure:
    """Every arm of every pilot at (cost per run, final test accuracy), with its interval as an error bar."""
    arm_colours = comparison_colours(comparison)
    currency = comparison.currency
    fig = go.Figure()
    lows: list[float] = []
    highs: list[float] = []
    costs: list[float] = []
    for name, colour in arm_colours.items():
        points = [
            (index, pilot, arm)
            for index, pilot in enumerate(comparison.pilots)
            for arm in pilot.arms
            if arm.arm == name and arm.test_acc is not None and arm.cost is not None
        ]
        if not points:
            continue
        ys = [arm.test_acc or 0.0 for _, _, arm in points]
        plus = [(arm.test_acc_high or y) - y for (_, _, arm), y in zip(points, ys, strict=True)]
        minus = [y - (arm.test_acc_low or y) for (_, _, arm), y in zip(points, ys, strict=True)]
        lows += [y - m for y, m in zip(ys, minus, strict=True)]
        highs += [y + p for y, p in zip(ys, plus, strict=True)]
        costs += [arm.cost or 0.0 for _, _, arm in points]
        fig.add_trace(
            go.Scatter(
                x=[arm.cost for _, _, arm in points], y=ys, mode="markers", name=arm_label(name), legendgroup="points",
                showlegend=False,  # the legend names the arm by a plain dot below: these points' shapes name pilots
                marker={"color": colour, "size": 13, "symbol": [pilot_symbol(i) for i, _, _ in points],
                        "line": {"width": 1, "color": "#ffffff"}},
                error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "color": colour},
                hovertext=[_hover(pilot, arm, comparison) for _, pilot, arm in points], hoverinfo="text",
            )
        )  # fmt: skip
    for name, colour in arm_colours.items():
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=arm_label(name), legendgroup="arms",
                legendgrouptitle={"text": "arm (colour)"}, marker={"color": colour, "size": 11, "symbol": "circle"},
                hoverinfo="skip",
            )
        )  # fmt: skip
    for index, pilot in enumerate(comparison.pilots):
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=pilot_legend_name(pilot), legendgroup="pilots",
                legendgrouptitle={"text": "pilot (shape)"},
                marker={"color": PILOT_MARKER_COLOUR, "size": 11, "symbol": pilot_symbol(index)}, hoverinfo="skip",
            )
        )  # fmt: skip
    fig.update_layout(
        **layout("Final test accuracy against cost per training run", f"cost per training run ({currency.code})", "")
    )
    # Accuracy is a share: the axis stays within 0-100 %, around the intervals drawn.
    low = max(0.0, min(lows, default=0.0) - 0.02)
    high = min(1.0, max(highs, default=1.0) + 0.02)
    fig.update_yaxes(title={"text": "final test accuracy"}, tickformat=".0%", range=[low, high])
    # Cost is never negative; the ticks are plain decimals with the currency's symbol, never 7.5e-05 or "20µ".
    largest = max(costs, default=0.0)
    fig.update_xaxes(
        range=[0, largest * 1.1 if largest > 0 else 1],
        tickprefix=currency.symbol,
        tickformat=f",.{_decimals(largest)}f",
        exponentformat="none",
        separatethousands=True,
    )
    fig.update_layout(
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        height=480,
    )
    return fig
