"""Pilots: create (validated, estimated, budget-checked), list, read with progress, cancel, delete, metrics."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query, Response
from pydantic import AfterValidator

from backend.auth.guard import Principal, require
from backend.auth.roles import Permission
from backend.errors import ERROR_RESPONSES, error_responses
from backend.etags import caching_headers, make_etag, not_modified
from backend.routes.deps import CatalogDep, MetricsCacheDep, PilotId, QueueDep, SettingsDep, StoreDep, dry_run_post
from backend.routes.runs import MetricsQueryDep, metrics_body
from backend.schemas import (
    CancelOut,
    MetricColumnsOut,
    MetricsOut,
    PilotCreate,
    PilotDetail,
    PilotOut,
    PilotPage,
    PilotPatch,
    PilotSubmission,
)
from backend.settings import Settings
from backend.store import Store
from backend.store.annotations import Annotation
from backend.submission import plan_pilot, submit_pilot
from backend.views import pilot_detail, pilot_out, run_out
from pilot_spec.listing import DEFAULT_SORT, SEARCH_MAX, PilotSort
from pilot_spec.status import PilotStatus
from pilot_spec.text import clean_text

router = APIRouter(prefix="/pilots", tags=["pilots"], responses=error_responses(401, 403, 404, 413, 415, 422, 503))

MAX_LIMIT = 200
SEARCH_HELP = (
    f"words to find (up to {SEARCH_MAX} characters): a pilot matches when each is in its name, description,"
    " owner or tags, in any case"
)
SORT_HELP = "a column to sort on: created, name, owner, dataset or model; '-' first for descending (default -created)"
PilotOutT = TypeVar("PilotOutT", bound=PilotOut)
# Text no database can hold (NUL, lone surrogates) is a 422 like in any body.
SearchText = AfterValidator(clean_text)


@dry_run_post(router, "", PilotSubmission)
def create_pilot(
    body: PilotCreate,
    principal: Annotated[Principal, require(Permission.SUBMIT)],
    response: Response,
    store: StoreDep,
    queue: QueueDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> PilotSubmission:
    """Create a pilot and queue one run per arm × seed (201), or only validate and estimate it (dry_run: 200)."""
    plan = plan_pilot(body, catalog=catalog, store=store, settings=settings, user=principal.user.name)
    detail: PilotDetail | None = None
    if body.dry_run:
        response.status_code = 200
    else:
        # The pilot belongs to whoever submits it: ownership decides who may cancel or delete it.
        pilot, _ = submit_pilot(plan, store=store, queue=queue, created_by=principal.user.name)
        summary = store.pilot_progress(pilot_id=pilot.id)
        detail = pilot_detail(summary, store.list_runs(pilot_id=pilot.id), settings)
    return PilotSubmission(
        dry_run=body.dry_run,
        queue=plan.queue,
        baseline_arm=plan.resolved.baseline_arm,
        seeds=plan.seeds,
        estimate=plan.estimate,
        pilot=detail,
    )


@router.get("", response_model=PilotPage, dependencies=[require(Permission.READ)])
def list_pilots(
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
    status: Annotated[PilotStatus | None, Query(description="only pilots in this state")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")] = 50,
    q: Annotated[str, SearchText, Query(max_length=SEARCH_MAX, description=SEARCH_HELP)] = "",
    sort: Annotated[PilotSort, Query(description=SORT_HELP)] = DEFAULT_SORT,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> PilotPage | Response:
    """List pilots, newest first, with their progress, latest decision, notes and tags (paginated; filter by
    status, search by words, sort by a column).

    Answers carry an ETag of the pilots' versions; send it back in If-None-Match to get 304 while nothing changed."""
    # Read before the list, so that a change committed meanwhile leaves the answer newer than its tag, not older.
    arguments = (status, offset, limit, q, sort, sorted(settings.price_per_hour.items()))
    etag = make_etag("l", store.versions.of_all(), arguments)
    if (unchanged := not_modified(if_none_match, etag)) is not None:
        return unchanged
    response.headers.update(caching_headers(etag))
    summaries, total = store.list_pilots(status=status, offset=offset, limit=limit, search=q, sort=sort)
    ids = [s.pilot.id for s in summaries]
    latest = store.decisions.latest(pilot_ids=ids)  # one query for the page
    notes = store.annotations.of(pilot_ids=ids)  # and two for their notes and tags
    items = [_annotated(pilot_out(s, settings, latest.get(s.pilot.id)), notes.get(s.pilot.id)) for s in summaries]
    return PilotPage(items=items, total=total, offset=offset, limit=limit)


def _annotated(pilot: PilotOutT, annotation: Annotation | None) -> PilotOutT:
    """The pilot's answer with its notes and tags."""
    if annotation is None:
        return pilot
    return pilot.model_copy(update={"notes": annotation.notes, "tags": list(annotation.tags)})


def _detail(store: Store, pilot_id: int, settings: Settings) -> PilotDetail:
    summary = store.pilot_progress(pilot_id=pilot_id)
    detail = pilot_detail(summary, store.list_runs(pilot_id=pilot_id), settings)
    return _annotated(detail, store.annotations.of(pilot_ids=[pilot_id]).get(pilot_id))


@router.get("/{pilot_id}", response_model=PilotDetail, dependencies=[require(Permission.READ)])
def get_pilot(pilot_id: PilotId, store: StoreDep, settings: SettingsDep) -> PilotDetail:
    """Get a pilot with its runs and progress: epochs done, runs by status, device-hours and cost so far."""
    return _detail(store, pilot_id, settings)


@router.patch("/{pilot_id}", response_model=PilotDetail, dependencies=[require(Permission.MANAGE_OWN_PILOTS)])
def patch_pilot(pilot_id: PilotId, body: PilotPatch, store: StoreDep, settings: SettingsDep) -> PilotDetail:
    """Set the pilot's notes and/or tags (its owner or an admin); answers the pilot as GET does."""
    store.annotations.update(pilot_id=pilot_id, notes=body.notes, tags=body.tags)
    return _detail(store, pilot_id, settings)


@router.delete(
    "/{pilot_id}",
    status_code=204,
    responses={409: ERROR_RESPONSES[409]},
    dependencies=[require(Permission.MANAGE_OWN_PILOTS)],
)
def delete_pilot(pilot_id: PilotId, store: StoreDep) -> Response:
    """Delete a pilot with its runs and metrics (409 while a run is queued or running)."""
    store.delete_pilot(pilot_id=pilot_id)
    return Response(status_code=204)


@router.post("/{pilot_id}/cancel", response_model=CancelOut, dependencies=[require(Permission.MANAGE_OWN_PILOTS)])
def cancel_pilot(pilot_id: PilotId, store: StoreDep) -> CancelOut:
    """Cancel every queued or running run of a pilot (finished runs stay as they are)."""
    return CancelOut(changed=[run_out(run) for run in store.cancel_pilot(pilot_id=pilot_id)])


@router.get(
    "/{pilot_id}/metrics", response_model=MetricsOut | MetricColumnsOut, dependencies=[require(Permission.READ)]
)
def pilot_metrics(
    pilot_id: PilotId,
    store: StoreDep,
    query: MetricsQueryDep,
    cache: MetricsCacheDep,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Get the metric points of all runs of a pilot in long format (chosen keys, optional downsampling).

    Answers carry an ETag of the pilot's state; send it back in If-None-Match to get 304 while nothing changed."""

    def build() -> bytes:
        return metrics_body(store, [run.id for run in store.list_runs(pilot_id=pilot_id)], query)

    return cache.response(store, pilot_id, query, build, if_none_match)
