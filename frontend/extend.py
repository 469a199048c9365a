"""Extending a pilot from its page: the "Extend by N seeds" form beside each "run N more seeds" advice.

The form posts here; like every page this calls the JSON API in-process (``POST /api/v1/pilots/{id}/extend``,
which validates, checks the budget on the pilot's total and the user's right to manage the pilot) and goes
back to the pilot page, or shows the API's refusal (403, 409, 422) as it is.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.auth.roles import Permission
from backend.auth.schemas import MeOut
from backend.schemas import MAX_SEEDS
from frontend.client import PageApi
from frontend.errors import error_page, refused
from frontend.permissions import may_manage
from frontend.posted_form import form_items
from frontend.rendering import templates
from frontend.signin import signed_in
from pilot_spec.analysis import PilotAnalysis

router = APIRouter(include_in_schema=False, dependencies=[Depends(signed_in)])

MANAGE = Permission.MANAGE_OWN_PILOTS


def addable_seeds(summary: PilotAnalysis) -> int:
    """How many seeds the pilot can still take: every arm's seeds count towards the pilot's ``MAX_SEEDS``."""
    most = max((len(a.seeds) for a in summary.arms), default=0)
    return max(0, MAX_SEEDS - most)


def can_extend(me: MeOut | None, summary: PilotAnalysis) -> bool:
    """Offer the form: the user may manage the pilot, and it is not a sequential pilot still in its rounds."""
    plan = summary.sequential
    return may_manage(me, summary.created_by) and not (plan is not None and not plan.stopped)


templates.env.globals.update(can_extend=can_extend, addable_seeds=addable_seeds)


@router.post("/pilots/{pilot_id:int}/extend", response_class=HTMLResponse)
async def extend_pilot(request: Request, pilot_id: int) -> Response:
    if (denied := refused(request, MANAGE)) is not None:
        return denied  # before reading the form: a viewer learns what they lack, not what to type
    form = dict(await form_items(request))
    raw = form.get("seeds", "").strip()
    try:
        seeds = int(raw)
    except ValueError:
        return error_page(request, 422, f"Enter how many seeds to add as a whole number (got {raw[:40]!r}).")
    result = await PageApi(request).post(f"/pilots/{pilot_id}/extend", json={"seeds": seeds})
    if not result.ok:
        return error_page(request, result.status, result.errors_text())
    return RedirectResponse(f"/pilots/{pilot_id}", status_code=303)
