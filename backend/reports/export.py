"""One pilot's reports from the store: what the API's routes and ``rblock-pilot report`` share."""

from __future__ import annotations

from dataclasses import dataclass

from backend.analysis.service import analyse_pilot
from backend.reports.cache import REPORTS, report_key
from backend.store import Store
from backend.store.annotations import Annotation
from backend.views import decision_out
from pilot_spec.money import DEFAULT_CURRENCY, Currency

FORMATS = ("pdf", "html", "csv", "epochs.csv", "json")
_MEDIA = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "epochs.csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


@dataclass(frozen=True)
class Report:
    content: bytes
    media_type: str
    filename: str


def export_report(
    store: Store, pilot_id: int, fmt: str, prices: dict[str, float], currency: Currency = DEFAULT_CURRENCY
) -> Report:
    """The report of a pilot in ``fmt`` (one of FORMATS), money in ``currency``; ``ValueError`` names the formats."""
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
    analysis = analyse_pilot(store, pilot_id, prices, None if fmt == "json" else render.REPORT_CURVES, currency)
    # The decision history, newest first, as the API lists it (the CSVs are per run and per epoch: not there).
    decisions = [decision_out(d).model_dump(mode="json") for d in store.decisions.history(pilot_id=pilot_id)]
    if fmt == "json":
        return Report(render.render_json(analysis, decisions).encode(), _MEDIA[fmt], filename)
    annotation = store.annotations.of(pilot_ids=[pilot_id]).get(pilot_id)
    extras = render.ReportExtras(decisions, annotation or Annotation(), prices, currency)
    # The PDF (seconds: charts and layout) and the HTML are kept by a hash of all they show (see cache.py).
    key = report_key(format=fmt, inputs=render.REPORT_INPUTS, summary=analysis.to_jsonable(), pilot=pilot, runs=runs,
                     extras=extras)  # fmt: skip
    if fmt == "html":
        content = REPORTS.get_or_make(key, lambda: render.render_html(analysis, pilot, runs, extras).encode())
    else:
        content = REPORTS.get_or_make(key, lambda: render.render_pdf(analysis, pilot, runs, extras))
    return Report(content, _MEDIA[fmt], filename)
