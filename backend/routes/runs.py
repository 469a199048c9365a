"""Runs: read one, cancel it, retry it, and read its metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.dispatch import enqueue_runs
from backend.errors import ERROR_RESPONSES, InputError, error_responses
from backend.metric_series import parse_keys, render_columns, render_rows
from backend.routes.deps import QueueDep, RunId, StoreDep
from backend.schemas import MetricColumnsOut, MetricsOut, RunOut
from backend.store import Store
from backend.views import run_out

router = APIRouter(prefix="/runs", tags=["runs"], responses=error_responses(401, 403, 404, 422, 503))

KeysQuery = Annotated[
    str | None,
    Query(max_length=20_000, description="comma-separated metric names, e.g. test_acc,train_loss (all when absent)"),
]
MaxPointsQuery = Annotated[
    int | None,
    Query(ge=2, le=1_000_000, description="keep at most this many points per run and key (evenly, first and last)"),
]


FormatQuery = Annotated[
    Literal["rows", "columns"],
    Query(description="columns (default): one array per column, fast for whole pilots; rows: a list of point objects"),
]


def metrics_response(
    store: Store, run_ids: Sequence[int], keys: str | None, max_points: int | None, layout: str = "columns"
) -> Response:
    """The long-format metrics body (see ``backend.metric_series`` for NaN, downsampling and layouts)."""
    try:
        names = parse_keys(keys)
    except ValueError as error:
        raise InputError(f"keys: {error}") from None
    if layout == "columns":
        raw = store.get_series_json(run_ids=list(run_ids), keys=names) if run_ids else []
        return Response(render_columns(raw, max_points), media_type="application/json")
    series = store.get_series(run_ids=list(run_ids), keys=names) if run_ids else []
    return Response(render_rows(series, max_points), media_type="application/json")


@router.get("/{run_id}", response_model=RunOut, dependencies=[require(Permission.READ)])
def get_run(run_id: RunId, store: StoreDep) -> RunOut:
    """Get one run: status, attempts, worker, device, cost, final metrics and its training config."""
    return run_out(store.get_run(run_id=run_id))


@router.post(
    "/{run_id}/cancel",
    response_model=RunOut,
    responses={409: ERROR_RESPONSES[409]},
    dependencies=[require(Permission.MANAGE_OWN_PILOTS)],
)
def cancel_run(run_id: RunId, store: StoreDep) -> RunOut:
    """Cancel a run: a queued run is cancelled at once, a running one stops at its next batch (409 if finished)."""
    return run_out(store.request_cancel(run_id=run_id))


@router.post(
    "/{run_id}/retry",
    response_model=RunOut,
    responses={409: ERROR_RESPONSES[409]},
    dependencies=[require(Permission.MANAGE_OWN_PILOTS)],
)
def retry_run(run_id: RunId, store: StoreDep, queue: QueueDep) -> RunOut:
    """Queue a failed or cancelled run again from scratch (409 otherwise)."""
    run = store.retry_run(run_id=run_id)
    enqueue_runs([run], store=store, queue=queue)
    return run_out(run)


@router.get("/{run_id}/metrics", response_model=MetricsOut | MetricColumnsOut, dependencies=[require(Permission.READ)])
def run_metrics(
    run_id: RunId,
    store: StoreDep,
    keys: KeysQuery = None,
    max_points: MaxPointsQuery = None,
    format: FormatQuery = "columns",
) -> Response:
    """Get a run's metric points in long format; non-finite values are null with `nonfinite` set."""
    store.get_run(run_id=run_id)  # 404 for an unknown run rather than an empty list
    return metrics_response(store, [run_id], keys, max_points, format)
