"""Render a pilot's report as HTML (interactive, self-contained), PDF (static charts), CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape

from backend.figures import FIGURE_CURVES, build_figure
from backend.figures.style import PLOTLY_CONFIG
from backend.reports.charts import longest_render_s
from backend.reports.headline import decision_lines, verdict_sentences
from backend.reports.setup import build_setup
from backend.store.annotations import Annotation
from backend.store.entities import MetricPoint, Pilot, Run, RunStatus
from pilot_spec import glossary
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.dates import format_minute
from pilot_spec.metrics import ECE, FLIP_RATE, INCONSISTENCY_KL, NLL, SEED_CHURN, TEST_ACC
from pilot_spec.money import DEFAULT_CURRENCY, Currency, format_money, format_number, format_ratio

REPORT_FIGURES = ("accuracy_curves", "accuracy_vs_cost", "stability", "roi")
# The only per-epoch curves the PDF and HTML reports show: their summary aggregates no others (most of its work).
REPORT_CURVES = sorted({key for name in REPORT_FIGURES for key in FIGURE_CURVES.get(name, [])})
CHART_WIDTH, CHART_HEIGHT, CHART_SCALE = 900, 560, 1.5  # layout pixels, and 1.5x for print
# JPEG, not PNG: WeasyPrint puts a JPEG into the PDF as it is, but decodes a PNG, splits off its alpha channel
# and compresses both again (0.7 s for four charts on 2 cores). At 1.5x (370 dpi on the page) and plotly's
# quality 0.92 the two cannot be told apart at 300 dpi.
CHART_FORMAT: Literal["jpeg"] = "jpeg"
# What a report depends on besides the pilot: part of its cache key (backend.reports.cache).
REPORT_INPUTS = {"figures": REPORT_FIGURES, "chart": [CHART_WIDTH, CHART_HEIGHT, CHART_SCALE, CHART_FORMAT]}
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
)


# The glossary terms of the numbers the report shows, in the order a reader meets them (docs/design.md §4).
REPORT_TERMS = (
    TEST_ACC, glossary.DELTA_ACC, glossary.INTERVAL, glossary.SEEDS, glossary.P_VALUE, glossary.HOLM,
    glossary.COHENS_D, glossary.SEEDS_NEEDED, glossary.DEVICE_HOURS, glossary.PRICE, glossary.COST,
    glossary.BENEFIT_PER_YEAR, glossary.EXTRA_COST_PER_YEAR, glossary.NET_PER_YEAR, glossary.ROI, glossary.PAYBACK,
    glossary.BREAK_EVEN, glossary.VERDICT, INCONSISTENCY_KL, FLIP_RATE, ECE, NLL, SEED_CHURN, glossary.DELTA_CHURN,
)  # fmt: skip


def _fmt(value: Any, digits: int) -> str:
    """A number with exactly ``digits`` places, thousands separators and a true minus; "n/a" when undefined."""
    if value is None or isinstance(value, Undefined):  # the baseline arm has no comparison row
        return "n/a"
    return format_number(value, digits)


def _sig(value: Any) -> str:
    """Four significant digits in positional notation: a CPU pilot's device-hours are 0.000x, a fleet's 1,000s."""
    if value is None or isinstance(value, Undefined):
        return "n/a"
    return format_number(value, significant=4)


@dataclass(frozen=True)
class ReportExtras:
    """What a report shows besides the analysis and the runs: the decisions recorded (newest first, as the
    API lists them), the owner's notes and tags, the service's prices (PRICE_PER_HOUR) and its CURRENCY."""

    decisions: Sequence[dict[str, Any]] = ()
    annotation: Annotation = field(default_factory=Annotation)
    prices: Mapping[str, float] = field(default_factory=dict)
    currency: Currency = DEFAULT_CURRENCY


def _context(summary: PilotAnalysis, pilot: Pilot, runs: Sequence[Run], extras: ReportExtras) -> dict[str, Any]:
    started = [r.started_at for r in runs if r.started_at]
    finished = [r.finished_at for r in runs if r.finished_at]
    devices = sorted({str((r.cost or {}).get("device_name") or r.device) for r in runs if r.cost or r.device})
    sentences = verdict_sentences(summary, extras.currency)
    terms = [*REPORT_TERMS, *([glossary.SEQUENTIAL] if summary.sequential else [])]
    currency = extras.currency

    def money(amount: Any) -> str:
        return "n/a" if amount is None or isinstance(amount, Undefined) else format_money(amount, currency)

    return {
        "summary": summary,
        "pilot": pilot,
        "generated": format_minute(datetime.now(UTC)),
        "verdicts": list(zip(sentences, summary.roi, strict=True)),
        # Recorded decisions, newest first (issue 11 §5): [(line, decision as the API lists it)].
        "decisions": list(zip(decision_lines(list(extras.decisions)), extras.decisions, strict=True)),
        "comparisons": {c.arm: c for c in summary.comparisons},
        "setup": build_setup(pilot, runs, extras.prices, currency),
        "annotation": extras.annotation,
        "glossary": [glossary.GLOSSARY[key] for key in terms],
        "currency": currency,
        "devices": devices,
        "created": format_minute(pilot.created_at),
        "started": format_minute(min(started)) if started else None,
        "finished": format_minute(max(finished)) if finished and not summary.provisional else None,
        "failed": [r for r in runs if r.status in (RunStatus.FAILED, RunStatus.CANCELLED)],
        "fmt": _fmt,
        "sig": _sig,
        "money": money,
        "ratio": format_ratio,
    }


def render_html(
    summary: PilotAnalysis, pilot: Pilot, runs: Sequence[Run], extras: ReportExtras = ReportExtras()
) -> str:
    """Interactive and self-contained: plotly.js is embedded, so the file opens offline."""
    import plotly.offline

    context = _context(summary, pilot, runs, extras)
    # Escape "</" so a figure's text can never close the script element it sits in.
    figures = [
        (name, build_figure(name, summary, currency=extras.currency).to_json().replace("</", "<\\/"))
        for name in REPORT_FIGURES
    ]
    return _TEMPLATES.get_template("report.html.j2").render(
        **context,
        interactive=True,
        figures=figures,
        plotly_js=plotly.offline.get_plotlyjs(),
        plotly_config=json.dumps(PLOTLY_CONFIG),
    )


def chart_images(summary: PilotAnalysis, currency: Currency = DEFAULT_CURRENCY) -> list[tuple[str, bytes]]:
    """The report's charts (CHART_FORMAT bytes, by name), drawn at once by the one kaleido browser kept open."""
    from backend.reports.charts import RENDERER

    figures = [build_figure(name, summary, currency=currency).to_dict() for name in REPORT_FIGURES]
    images = RENDERER.render(
        figures, width=CHART_WIDTH, height=CHART_HEIGHT, scale=CHART_SCALE, image_format=CHART_FORMAT
    )
    return list(zip(REPORT_FIGURES, images, strict=True))


# The PDF's images are these URLs, served to WeasyPrint by ChartFetcher: the HTML stays small, and WeasyPrint
# parses it and applies its styles while Chromium is still drawing the charts (it fetches images after that).
CHART_URL = "chart:"
_CHART_MIME = f"image/{CHART_FORMAT}"
# A report's charts: the renderer's own timeouts come first, so its error (ChartsUnavailable) is the one reported.
DRAW_WAIT_S = longest_render_s(len(REPORT_FIGURES)) + 10.0
_DRAWING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report-chart-images")


def render_pdf(
    summary: PilotAnalysis, pilot: Pilot, runs: Sequence[Run], extras: ReportExtras = ReportExtras()
) -> bytes:
    """A4 pages: the same content as the HTML with the charts as images."""
    from weasyprint import HTML

    drawing = _DRAWING.submit(chart_images, summary, extras.currency)
    html = _TEMPLATES.get_template("report.html.j2").render(
        **_context(summary, pilot, runs, extras),
        interactive=False,
        images=[(name, CHART_URL + name) for name in REPORT_FIGURES],
    )
    pdf: bytes = HTML(string=html, url_fetcher=_chart_fetcher(drawing)).write_pdf()
    drawing.result()  # a failed draw is this report's error, not a PDF without its charts
    return pdf


def _chart_fetcher(drawing: Future[list[tuple[str, bytes]]]) -> Any:
    """WeasyPrint's URL fetcher for one PDF: its charts, once drawn; any other URL is refused (the template
    has no other resource, and a report must never make the server read a file or a URL)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class ChartFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith(CHART_URL):
                raise ValueError(f"a report fetches only its charts, not {url!r}")
            images = dict(drawing.result(timeout=DRAW_WAIT_S))
            return URLFetcherResponse(url, images[url.removeprefix(CHART_URL)], {"Content-Type": _CHART_MIME})

    return ChartFetcher()


# OWASP's CSV injection rule: a spreadsheet treats a cell that starts with one of these as a formula
# (=HYPERLINK(...) in an arm name would become a live link, or worse); a leading ' makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)")


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: text starting like a formula gets a leading ``'``.

    Numbers stay numbers (a negative value is not a formula), whether given as numbers or as their text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


# device_seconds is what the cost is billed on (the training steps' robust device time), wall_seconds the
# whole run beside it; runs stored before that split carry only train_seconds, their wall time ("wall").
_METRIC_COLUMNS = (TEST_ACC, NLL, ECE, INCONSISTENCY_KL, FLIP_RATE)  # each run's final metrics, by name
RUN_COLUMNS = (
    "run_id", "arm", "regularizer", "seed", "status", "attempts", "device", "epochs_done", *_METRIC_COLUMNS,
    "device_seconds", "wall_seconds", "cost_basis", "device_hours", "samples_per_second", "peak_memory_bytes",
    "energy_joules", "error",
)  # fmt: skip


def render_runs_csv(pilot: Pilot, runs: Sequence[Run]) -> str:
    """One row per run: its final metrics and cost (failed and cancelled runs included, with their error)."""
    regularizer = {arm.name: arm.regularizer for arm in pilot.arms}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RUN_COLUMNS)
    for run in runs:
        metrics, cost = run.final_metrics or {}, run.cost or {}
        writer.writerow(
            [safe_cell(cell) for cell in [
                run.id, run.arm, regularizer.get(run.arm, ""), run.seed, run.status.value, run.attempts,
                cost.get("device_name") or run.device or "", run.epochs_done,
                *(metrics.get(name) for name in _METRIC_COLUMNS),
                cost.get("device_seconds", cost.get("train_seconds")), cost.get("wall_seconds"),
                cost.get("cost_basis", "wall"), cost.get("device_hours"), cost.get("samples_per_second"),
                cost.get("peak_memory_bytes"), cost.get("energy_joules"), run.error or "",
            ]]
        )  # fmt: skip
    return buffer.getvalue()


def render_epochs_csv(runs: Sequence[Run], points: Sequence[MetricPoint]) -> str:
    """Per-epoch metrics in long format: run_id, arm, seed, key, epoch, value (NaN/inf written as such)."""
    by_id = {run.id: run for run in runs}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("run_id", "arm", "seed", "key", "epoch", "value"))
    for p in points:
        run = by_id.get(p.run_id)
        if run is not None:
            row = (p.run_id, run.arm, run.seed, p.key, p.epoch, repr(p.value))
            writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def render_json(summary: PilotAnalysis, decisions: Sequence[dict[str, Any]] = ()) -> str:
    """The summary, with the recorded decisions (newest first, without their snapshots) under ``decisions``."""
    return json.dumps({**summary.to_jsonable(), "decisions": list(decisions)}, indent=1, default=str)
