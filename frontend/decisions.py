"""The decision record on the pilot page (issue 11 §5): the history, and the form for managers and admins.

The pilot page (``pilot_pages.pilot_page``) renders ``_decisions.html`` with the list from the API; this module
adds the form's target. Posting goes through ``POST /api/v1/pilots/{id}/decision`` like every change, so
the API decides who may decide (the form is only hidden from those it would refuse).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.schemas import DECISIONS, NOTE_MAX, DecisionList, PilotDetail
from frontend.client import PageApi
from frontend.errors import problem
from frontend.posted_form import form_items
from frontend.rendering import is_htmx, render, templates
from frontend.signin import signed_in

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])
templates.env.globals.update(decision_choices=DECISIONS, note_max=NOTE_MAX)


async def _fragment(request: Request, pilot_id: int, status_code: int = 200, **context: Any) -> Response:
    api = PageApi(request)
    pilot = await api.read(f"/pilots/{pilot_id}", PilotDetail)
    history = await api.read(f"/pilots/{pilot_id}/decisions", DecisionList)
    context.setdefault("error", "")
    context.setdefault("values", {})
    return render(
        request, "_decisions.html", status_code=status_code, pilot=pilot, decisions=history.decisions, **context
    )


@router.get("/pilots/{pilot_id:int}/decisions", response_class=HTMLResponse)
async def decisions_fragment(request: Request, pilot_id: int) -> Response:
    return await _fragment(request, pilot_id)


@router.post("/pilots/{pilot_id:int}/decision", response_class=HTMLResponse)
async def record_decision(request: Request, pilot_id: int) -> Response:
    """The form → POST /api/v1/pilots/{id}/decision; htmx gets the history again, a plain form a redirect."""
    form = dict(await form_items(request))
    body = {key: form.get(key, "") for key in ("decision", "arm", "note")}
    result = await PageApi(request).post(f"/pilots/{pilot_id}/decision", json=body)
    if result.ok and not is_htmx(request):
        return RedirectResponse(f"/pilots/{pilot_id}#decisions", status_code=303)
    if result.ok:
        return await _fragment(request, pilot_id, 201)
    if result.status != 422:  # 403 for an engineer, 404, 503: a page that says why
        return problem(request, result)
    error = result.errors_text()
    # htmx swaps only 2xx answers by default: the form comes back with the reason in it, status 200.
    status = 200 if is_htmx(request) else result.status
    return await _fragment(request, pilot_id, status, error=error, values=body)
