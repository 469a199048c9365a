"""Runs: read one, cancel it, retry it, and read its metrics."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

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


@dataclass(frozen=True)
class MetricsQuery:
    """The query of a metrics read (a run's or a pilot's): which keys, how many points, which layout."""

    keys: KeysQuery = None
    max_points: MaxPointsQuery = None
    format: FormatQuery = "columns"


MetricsQueryDep = Annotated[MetricsQuery, Depends()]
# A change of a run's status by someone who manages pilots; 409 when its life cycle forbids the move.
_run_change = functools.partial(
    router.post,
    response_model=RunOut,
    responses={409: ERROR_RESPONSES[409]},
    dependencies=[require(Permission.MANAGE_OWN_PILOTS)],
)


def metrics_response(store: Store, run_ids: Sequence[int], query: MetricsQuery) -> Response:
    """The long-format metrics body (see ``backend.metric_series`` for NaN, downsampling and layouts)."""
    return Response(metrics_body(store, run_ids, query), media_type="application/json")


def metrics_body(store: Store, run_ids: Sequence[int], query: MetricsQuery) -> bytes:
    """``metrics_response``'s JSON bytes; InputError (422) for keys it cannot read."""
    try:
        names = parse_keys(query.keys)
    except ValueError as error:
        raise InputError(f"keys: {error}") from None
    if query.format == "columns":
        raw = store.get_series_json(run_ids=list(run_ids), keys=names) if run_ids else []
        return render_columns(raw, query.max_points)
    series = store.get_series(run_ids=list(run_ids), keys=names) if run_ids else []
    return render_rows(series, query.max_points)


@router.get("/{run_id}", response_model=RunOut, dependencies=[require(Permission.READ)])
def get_run(run_id: RunId, store: StoreDep) -> RunOut:
    """Get one run: status, attempts, worker, device, cost, final metrics and its training config."""
    return run_out(store.get_run(run_id=run_id))


@_run_change("/{run_id}/cancel")
def cancel_run(run_id: RunId, store: StoreDep) -> RunOut:
    """Cancel a run: a queued run is cancelled at once, a running one stops at its next batch (409 if finished)."""
    return run_out(store.request_cancel(run_id=run_id))


@_run_change("/{run_id}/retry")
def retry_run(run_id: RunId, store: StoreDep, queue: QueueDep) -> RunOut:
    """Queue a failed or cancelled run again from scratch (409 otherwise)."""
    run = store.retry_run(run_id=run_id)
    enqueue_runs([run], store=store, queue=queue)
    return run_out(run)


@router.get("/{run_id}/metrics", response_model=MetricsOut | MetricColumnsOut, dependencies=[require(Permission.READ)])
def run_metrics(run_id: RunId, store: StoreDep, query: MetricsQueryDep) -> Response:
    """Get a run's metric points in long format; non-finite values are null with `nonfinite` set."""
    store.get_run(run_id=run_id)  # 404 for an unknown run rather than an empty list
    return metrics_response(store, [run_id], query)
