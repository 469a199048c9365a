"""One pilot's analysis and reports from the store: what the API's routes and ``rblock-pilot report`` share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.analysis.sequential import sequential_section, state_confidence
from backend.analysis.summary import build_summary, summary_points
from backend.reports.cache import REPORTS, report_key
from backend.store import Store
from backend.views import decision_out
from pilot_spec.metrics import DROP_RATE

FORMATS = ("pdf", "html", "csv", "epochs.csv", "json")
_MEDIA = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "epochs.csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def pilot_summary(
    store: Store, pilot_id: int, prices: dict[str, float], curve_keys: Sequence[str] | None = None
) -> dict[str, Any]:
    """The analysis of a pilot (raises NotFound); ``curve_keys`` limits the per-epoch aggregates to those
    metrics (None: every metric), which is most of the work on a big pilot."""
    pilot = store.get_pilot(pilot_id=pilot_id)
    runs = store.list_runs(pilot_id=pilot_id)
    # drop_rate is read whatever the curves: the comparability warnings need it.
    keys = None if curve_keys is None else sorted({*curve_keys, DROP_RATE})
    points = summary_points(store.get_series(run_ids=[r.id for r in runs], keys=keys), curve_keys)
    if pilot.sequential is None:
        summary = build_summary(pilot, runs, points, prices=prices, curve_keys=curve_keys)
    else:
        # A sequential pilot is analysed at its current look's confidence (α-spending), and says so.
        confidence = state_confidence(pilot.sequential, len(pilot.seeds))
        summary = build_summary(pilot, runs, points, prices=prices, curve_keys=curve_keys, confidence=confidence)
        summary["sequential"] = sequential_section(pilot.sequential, summary, len(pilot.seeds))
    summary["created_by"] = pilot.created_by  # the pages offer changes (extend) to its owner only
    return summary


@dataclass(frozen=True)
class Report:
    content: bytes
    media_type: str
    filename: str


def export_report(store: Store, pilot_id: int, fmt: str, prices: dict[str, float]) -> Report:
    """The report of a pilot in ``fmt`` (one of FORMATS); ``ValueError`` names the formats."""
    from backend.reports import render  # plotly, kaleido and weasyprint load only when a report is asked for

    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    pilot = store.get_pilot(pilot_id=pilot_id)
    runs = store.list_runs(pilot_id=pilot_id)
    filename = f"pilot-{pilot_id}-report.{fmt}" if fmt != "epochs.csv" else f"pilot-{pilot_id}-epochs.csv"
    if fmt == "csv":
        return Report(render.render_runs_csv(pilot, runs).encode(), _MEDIA[fmt], filename)
    if fmt == "epochs.csv":
        points = store.get_points(run_ids=[r.id for r in runs])
        return Report(render.render_epochs_csv(runs, points).encode(), _MEDIA[fmt], filename)
    # The JSON report holds every curve; the PDF and HTML show only their figures' (render.REPORT_CURVES).
    summary = pilot_summary(store, pilot_id, prices, None if fmt == "json" else render.REPORT_CURVES)
    # The decision history, newest first, as the API lists it (the CSVs are per run and per epoch: not there).
    decisions = [decision_out(d).model_dump(mode="json") for d in store.decisions.history(pilot_id=pilot_id)]
    if fmt == "json":
        return Report(render.render_json(summary, decisions).encode(), _MEDIA[fmt], filename)
    # The PDF (seconds: charts and layout) and the HTML are kept by a hash of all they show (see cache.py).
    key = report_key(
        format=fmt, inputs=render.REPORT_INPUTS, summary=summary, decisions=decisions, pilot=pilot, runs=runs
    )
    if fmt == "html":
        content = REPORTS.get_or_make(key, lambda: render.render_html(summary, pilot, runs, decisions).encode())
    else:
        content = REPORTS.get_or_make(key, lambda: render.render_pdf(summary, pilot, runs, decisions))
    return Report(content, _MEDIA[fmt], filename)
