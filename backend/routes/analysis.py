"""A pilot's analysis: the summary (statistics, ROI, verdicts), ROI inputs, figures and reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.errors import InputError, error_responses
from backend.figures import FIGURE_CURVES, FIGURES, build_figure
from backend.reports.export import export_report
from backend.routes.deps import PilotId, SettingsDep, StoreDep, SummaryCacheDep
from backend.schemas import RoiInputs
from backend.store import NotFound
from pilot_spec.analysis import PilotAnalysis

router = APIRouter(prefix="/pilots", tags=["analysis"], responses=error_responses(401, 403, 404, 413, 415, 422, 503))

FigureName = Annotated[str, Path(max_length=64, description=f"one of {', '.join(FIGURES)}")]
ReportFormat = Annotated[str, Path(description="pdf, html, csv (a row per run) or json")]
# What the downloads answer with, for OpenAPI: FastAPI documents only JSON for a plain Response.
REPORT_TYPES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}, "text/html": {}, "text/csv": {}, "application/json": {}}}
}
CSV_TYPE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, long format"}
}


CurvesQuery = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="per-epoch aggregates to include: all (default), none, or comma-separated metric names",
    ),
]


def _curve_keys(curves: str | None) -> list[str] | None:
    if curves is None or curves == "all":
        return None
    if curves == "none":
        return []
    return [key.strip() for key in curves.split(",") if key.strip()]


# The cached summary's JSON is sent as encoded once (see backend/summary_cache.py), from a PilotAnalysis: the
# response model documents it (OpenAPI) without validating and encoding it again on every request.
@router.get("/{pilot_id}/summary", response_model=PilotAnalysis, dependencies=[require(Permission.READ)])
def summary(
    pilot_id: PilotId,
    store: StoreDep,
    settings: SettingsDep,
    cache: SummaryCacheDep,
    curves: CurvesQuery = None,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Get the whole analysis: per-arm results, tests against the baseline, ROI and verdicts, warnings.

    Answers carry an ETag of the pilot's state; send it back in If-None-Match to get 304 while nothing changed."""
    return cache.response(store, pilot_id, settings.price_per_hour, _curve_keys(curves), if_none_match)


@router.put("/{pilot_id}/roi", response_model=PilotAnalysis, dependencies=[require(Permission.EDIT_ROI)])
def put_roi(
    pilot_id: PilotId, inputs: RoiInputs, store: StoreDep, settings: SettingsDep, cache: SummaryCacheDep
) -> Response:
    """Set the ROI inputs of a pilot and get the analysis recomputed with them (without the per-epoch curves)."""
    store.update_roi(pilot_id=pilot_id, roi=inputs.model_dump())
    return Response(cache.get(store, pilot_id, settings.price_per_hour, []).json, media_type="application/json")


ColumnsQuery = Annotated[
    int | None,
    Query(ge=1, le=4, description="panels per row of the stability figure, 1 to 4 (default 4; 1 stacks them)"),
]


@router.get("/{pilot_id}/figures/{name}", dependencies=[require(Permission.READ)])
def figure(
    pilot_id: PilotId,
    name: FigureName,
    store: StoreDep,
    settings: SettingsDep,
    cache: SummaryCacheDep,
    columns: ColumnsQuery = None,
) -> Response:
    """Get one figure as Plotly JSON (accuracy_curves, loss_curves, accuracy_vs_cost, cost_per_run, ...)."""
    if name not in FIGURES:
        raise NotFound(f"no figure {name!r}: use one of {', '.join(FIGURES)}")
    analysis = cache.get(store, pilot_id, settings.price_per_hour, FIGURE_CURVES.get(name, [])).analysis
    return Response(
        build_figure(name, analysis, columns=columns, currency=settings.currency).to_json(),
        media_type="application/json",
    )


def _report(pilot_id: int, fmt: str, store: Any, settings: Any) -> Response:
    try:
        report = export_report(store, pilot_id, fmt, settings.price_per_hour, settings.currency)
    except ValueError as error:
        raise InputError(str(error)) from None
    headers = {"Content-Disposition": f'attachment; filename="{report.filename}"'}
    return Response(report.content, media_type=report.media_type, headers=headers)


@router.get(
    "/{pilot_id}/report.{fmt}",
    responses=REPORT_TYPES,
    dependencies=[require(Permission.READ)],
)
def report(pilot_id: PilotId, fmt: ReportFormat, store: StoreDep, settings: SettingsDep) -> Response:
    """Download the pilot's report: PDF, self-contained HTML, CSV (a row per run) or JSON."""
    return _report(pilot_id, fmt, store, settings)


@router.get("/{pilot_id}/epochs.csv", responses=CSV_TYPE, dependencies=[require(Permission.READ)])
def epochs_csv(pilot_id: PilotId, store: StoreDep, settings: SettingsDep) -> Response:
    """Download every per-epoch metric of the pilot as CSV in long format."""
    return _report(pilot_id, "epochs.csv", store, settings)
