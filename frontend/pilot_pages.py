"""The pilots: their list, one pilot's page and the fragments it polls (runs, comparison, verdicts), its ROI
inputs, and cancelling or retrying its runs.

The pilot and its runs are read as the API's ``PilotPage``/``PilotDetail`` models, the summary as
``pilot_spec.analysis.PilotAnalysis`` (the summary endpoint's response model).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.figures import FIGURES
from backend.figures.style import value_bounds
from backend.schemas import DecisionList, PilotDetail, PilotPage, RunOut
from frontend.client import ApiRefused, ApiResult, PageApi
from frontend.errors import problem
from frontend.forms import ROI_INPUTS, ROI_LABELS, field_errors
from frontend.page_cache import cached_page
from frontend.pilot_listing import SORT_LABELS, PilotListing
from frontend.posted_form import form_items
from frontend.rendering import is_htmx, render, templates
from frontend.signin import signed_in, signed_in_with_state
from pilot_spec.analysis import PilotAnalysis
from pilot_spec.colours import arm_colours
from pilot_spec.listing import DEFAULT_SORT, PILOT_SORTS, SEARCH_MAX
from pilot_spec.metrics import CURVE_METRICS, METRICS, TEST_ACC
from pilot_spec.status import PilotStatus

PAGE_SIZE = 50
PILOT_STATUSES = frozenset(PilotStatus)  # the list's status filter: anything else shows every pilot
# Figures shown under the comparison (curves are drawn live from the metrics instead).
COMPARISON_FIGURES = [name for name in ("accuracy_vs_cost", "stability", "roi") if name in FIGURES]

# The curves' metric selector: what runs record every epoch (pilot_spec.metrics.CURVE_METRICS), the ones a
# manager compares first at the top; each with its label and the range its axis keeps to ("" where open).
_FIRST_CURVES = ("test_acc", "test_loss", "train_acc", "train_loss", "consistency_kl")
CURVE_CHOICES = [
    {"key": key, "label": METRICS[key].label, "min": value_bounds(key)[0], "max": value_bounds(key)[1]}
    for key in sorted(CURVE_METRICS, key=lambda k: (_FIRST_CURVES + CURVE_METRICS).index(k))
]
FINAL_ONLY = [METRICS[key].label for key in METRICS if not METRICS[key].curve]

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])
# The cached pages sign in themselves, asking for the state of what they show in the same call (page_cache.py).
cached_pages = APIRouter(include_in_schema=False)
templates.env.globals.update(search_max=SEARCH_MAX, sort_labels=SORT_LABELS)


@cached_pages.get("/", response_class=HTMLResponse)
async def pilots_page(request: Request, status: str = "", page: int = 1, q: str = "", sort: str = "") -> Response:
    """Every pilot, newest first unless sorted, searched and paginated by the API; verdicts are loaded per row
    afterwards (one summary each). A search over its length is the API's 422, shown as a page."""
    state = await signed_in_with_state(request, pilots="all")
    page = max(1, min(page, 10**6))
    status = status if status in PILOT_STATUSES else ""
    sort = sort if sort in PILOT_SORTS else DEFAULT_SORT  # like the status filter: a stale link shows the list
    listing = PilotListing(status=status, q=q, sort=sort, page=page)
    if not is_htmx(request) and not listing.is_url_of(request.url.query):
        # The search form sends every field, blank or default ones too: its answer is the list's plain link.
        return RedirectResponse(listing.url(), status_code=303)
    query: dict[str, Any] = {"sort": sort, "offset": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    query.update({name: value for name, value in (("status", status), ("q", q)) if value})
    return await cached_page(request, state, "/pilots", query, functools.partial(_pilots_page, request, listing))


async def _pilots_page(request: Request, listing: PilotListing, result: ApiResult) -> Response:
    """The pilots page from the API's list (``cached_page`` asked for it, and keeps the page)."""
    if not result.ok:
        raise ApiRefused(result)
    listed = result.parsed(PilotPage)
    page, status = listing.page, listing.status
    pages = max(1, math.ceil(listed.total / PAGE_SIZE))
    name = "_pilot_rows.html" if is_htmx(request) else "pilots.html"
    return render(
        request, name, pilots=listed.items, total=listed.total, page=page, pages=pages, status=status, listing=listing
    )


def _summary(result: ApiResult) -> dict[str, Any]:
    """The template context of a summary answer: the analysis, or None and the API's refusal."""
    if not result.ok:
        return {"summary": None, "summary_error": result.detail}
    return {"summary": result.parsed(PilotAnalysis), "summary_error": None}


@router.get("/pilots/{pilot_id:int}/verdict", response_class=HTMLResponse)
async def pilot_verdict(request: Request, pilot_id: int) -> Response:
    result = await PageApi(request).get(f"/pilots/{pilot_id}/summary", curves="none")
    if not result.ok:
        return HTMLResponse("")
    return render(request, "_verdicts.html", summary=result.parsed(PilotAnalysis))


def _grid(pilot: PilotDetail) -> dict[str, Any]:
    """The runs as an arm × seed grid: the context of ``_runs.html``."""
    seeds = sorted({run.seed for run in pilot.runs})
    cells = {(run.arm, run.seed): run for run in pilot.runs}
    return {"pilot": pilot, "arms": [arm.name for arm in pilot.arms], "seeds": seeds, "cells": cells}


async def _pilot(request: Request, pilot_id: int) -> PilotDetail:
    return await PageApi(request).read(f"/pilots/{pilot_id}", PilotDetail)


@cached_pages.get("/pilots/{pilot_id:int}", response_class=HTMLResponse)
async def pilot_page(request: Request, pilot_id: int) -> Response:
    state = await signed_in_with_state(request, pilot=pilot_id)
    page = functools.partial(_pilot_page, request, pilot_id)
    return await cached_page(request, state, f"/pilots/{pilot_id}/summary", {"curves": "none"}, page)


async def _pilot_page(request: Request, pilot_id: int, summary: ApiResult) -> Response:
    """The pilot page from its summary (``cached_page`` asked for it, and keeps the page), its runs and decisions."""
    # Both at once (each runs on the API's thread pool): one wait instead of two behind the other requests.
    decisions_call = PageApi(request).get(f"/pilots/{pilot_id}/decisions")  # its form posts to frontend/decisions.py
    pilot, decisions = await asyncio.gather(_pilot(request, pilot_id), decisions_call)
    return render(
        request,
        "pilot.html",
        **_grid(pilot),
        **_summary(summary),
        decisions=decisions.parsed(DecisionList).decisions if decisions.ok else [],
        run_arms=json.dumps({run.id: run.arm for run in pilot.runs}),
        # One colour per arm, the same as the figures' (backend/figures/style.arm_colours: the pilot's arms in
        # its order, the baseline grey): the page's script draws with these, it keeps no palette of its own.
        arm_colours=json.dumps(
            arm_colours(((arm.name, arm.regularizer) for arm in pilot.arms), baseline=pilot.baseline_arm)
        ),
        curve_choices=CURVE_CHOICES,
        curve_default=TEST_ACC,
        final_only=FINAL_ONLY,
        figures=COMPARISON_FIGURES,
        roi_fields=ROI_INPUTS,
        roi_labels=ROI_LABELS,
    )


@router.get("/pilots/{pilot_id:int}/runs", response_class=HTMLResponse)
async def pilot_runs_fragment(request: Request, pilot_id: int) -> Response:
    return render(request, "_runs.html", **_grid(await _pilot(request, pilot_id)))


@router.get("/pilots/{pilot_id:int}/comparison", response_class=HTMLResponse)
async def pilot_comparison_fragment(request: Request, pilot_id: int) -> Response:
    result = await PageApi(request).get(f"/pilots/{pilot_id}/summary", curves="none")
    return render(request, "_comparison.html", pilot_id=pilot_id, **_summary(result))


@router.post("/pilots/{pilot_id:int}/roi", response_class=HTMLResponse)
async def pilot_roi(request: Request, pilot_id: int) -> Response:
    """The manager's ROI inputs (form) → PUT /api/v1/pilots/{id}/roi → the comparison, recomputed."""
    form = dict(await form_items(request))
    inputs: dict[str, Any] = {}
    for key in ROI_INPUTS:
        raw = form.get(key)
        if isinstance(raw, str) and raw.strip():
            try:
                inputs[key] = float(raw)
            except ValueError:
                inputs[key] = raw
    result = await PageApi(request).put(f"/pilots/{pilot_id}/roi", json=inputs)
    errors = field_errors(result.errors, []) if result.status == 422 else {}
    # The PUT answers with the recomputed analysis; refused, the comparison shows the analysis as it stands.
    summary = result if result.ok else await PageApi(request).get(f"/pilots/{pilot_id}/summary", curves="none")
    return render(request, "_comparison.html", pilot_id=pilot_id, roi_errors=errors, **_summary(summary))


async def _action(request: Request, path: str, pilot_id: int | None) -> Response:
    """A cancel or retry: htmx gets the runs grid again (with the refusal in it), a plain form a redirect."""
    result = await PageApi(request).post(path)
    if pilot_id is None and result.ok:
        pilot_id = result.parsed(RunOut).pilot_id  # a run's cancel or retry answers with the run
    if is_htmx(request) and pilot_id is not None:
        message = None if result.ok else result.detail
        return render(request, "_runs.html", **_grid(await _pilot(request, pilot_id)), message=message)
    if not result.ok:
        return problem(request, result)
    return RedirectResponse(f"/pilots/{pilot_id}" if pilot_id else "/", status_code=303)


@router.post("/pilots/{pilot_id:int}/cancel")
async def cancel_pilot(request: Request, pilot_id: int) -> Response:
    return await _action(request, f"/pilots/{pilot_id}/cancel", pilot_id)


@router.post("/runs/{run_id:int}/cancel")
async def cancel_run(request: Request, run_id: int) -> Response:
    return await _action(request, f"/runs/{run_id}/cancel", None)


@router.post("/runs/{run_id:int}/retry")
async def retry_run(request: Request, run_id: int) -> Response:
    return await _action(request, f"/runs/{run_id}/retry", None)
