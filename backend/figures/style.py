"""One colour per arm across every figure, the shared layout, arm names made safe, and the toolbar config."""

from __future__ import annotations

from typing import Any

from pilot_spec import colours
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.metrics import METRICS, SHARE_METRICS

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


def arm_colours(summary: PilotAnalysis) -> dict[str, str]:
    """Arm label -> colour, stable by regularizer kind, the baseline grey (pilot_spec.colours: one table for
    every chart; the pilot page passes its arms in the same order, see frontend/pilot_pages.py)."""
    return colours.arm_colours(((arm.arm, arm.regularizer) for arm in summary.arms), baseline=summary.baseline_arm)


# Quantities the figures plot that are not metrics: device-hours and money spent are never negative.
DEVICE_HOURS = "device_hours"
COST = "cost"
NONNEGATIVE_QUANTITIES = frozenset({DEVICE_HOURS, COST})


def value_bounds(key: str) -> tuple[float | None, float | None]:
    """The range a metric's values can take, for its axis and its error bars (issue 16: accuracy above 1 or
    negative device-hours on an axis read as data): a share lies in [0, 1]; every other metric of
    pilot_spec.metrics (losses, divergences, rates, times) and every cost is never negative; a key the
    vocabulary does not know is left open."""
    if key in SHARE_METRICS:
        return 0.0, 1.0
    if key in METRICS or key in NONNEGATIVE_QUANTITIES:
        return 0.0, None
    return None, None


def value_axis(key: str) -> dict[str, Any]:
    """Plotly axis settings that cut the autorange to ``value_bounds(key)`` (padding included) and let it
    still zoom in on the data: 0.90 to 0.95 of accuracy is not drawn from 0 (``clipmin``/``clipmax`` cut the
    autorange; plotly's ``minallowed``/``maxallowed`` would pin it to the bound)."""
    low, high = value_bounds(key)
    limits = {name: bound for name, bound in (("clipmin", low), ("clipmax", high)) if bound is not None}
    return {"autorangeoptions": limits} if limits else {}


def clip(value: float | None, key: str) -> float | None:
    """``value`` cut to ``value_bounds(key)`` (an interval's end of 99% accuracy over 3 seeds can pass 1)."""
    if value is None:
        return None
    low, high = value_bounds(key)
    if low is not None:
        value = max(low, value)
    return value if high is None else min(high, value)


def layout(title: str, x_title: str, y_title: str, *, x_key: str = "", y_key: str = "") -> dict[str, Any]:
    """The shared layout; ``x_key``/``y_key`` name what an axis shows, to keep it inside ``value_bounds``."""
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}, "automargin": True, **value_axis(x_key)},
        "yaxis": {"title": {"text": y_title}, "automargin": True, **value_axis(y_key)},
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
