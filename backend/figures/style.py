"""One colour per arm across every figure, the shared layout, arm names made safe, and the toolbar config."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pilot_spec import colours
from pilot_spec.analysis import ArmResult

# plotly.js's config for every chart, in the pages (frontend/static/charts.js keeps the same; a test holds
# them equal) and the HTML report: no plotly logo, and none of the buttons that send a chart to Plotly's
# cloud ("Share chart...": the modebar button is "sendChartToCloud" in plotly.js 4, where
# showSendToCloud still defaults to true; "sendDataToCloud" in older versions; plotly.js 4 has no
# showEditInChartStudio option any more).
PLOTLY_CONFIG: dict[str, Any] = {
    "responsive": True,
    "displaylogo": False,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["sendChartToCloud", "sendDataToCloud"],
}


def arm_label(name: Any) -> str:
    """An arm name as Plotly text: plotly.js renders a subset of HTML in names, legends, ticks and text
    (``<a href>`` makes a live link), so ``&``, ``<`` and ``>`` are escaped (Plotly shows the entities as the
    characters)."""
    return str(name).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


MAX_POINTS_PER_LINE = 1500


def arm_colours(arms: Sequence[ArmResult]) -> dict[str, str]:
    """Arm label -> colour, stable by regularizer kind (pilot_spec.colours: one table for every chart)."""
    return colours.arm_colours((arm.arm, arm.regularizer) for arm in arms)


def layout(title: str, x_title: str, y_title: str) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "template": "plotly_white",
        # Above the plot, under the title: below it, a legend collides with the x axis's title on short plots.
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        "margin": {"l": 60, "r": 20, "t": 90, "b": 60},
        "hovermode": "x unified",
    }


def downsample(xs: list[Any], *series: list[Any]) -> tuple[list[Any], ...]:
    """At most MAX_POINTS_PER_LINE points by even striding, keeping the first and the last."""
    n = len(xs)
    if n <= MAX_POINTS_PER_LINE:
        return (xs, *series)
    step = (n - 1) / (MAX_POINTS_PER_LINE - 1)
    keep = sorted({round(i * step) for i in range(MAX_POINTS_PER_LINE)})
    return tuple([s[i] for i in keep] for s in (xs, *series))


def rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
