"""The decision record (issue 11 §5): a manager or admin records adopt / reject / defer for one arm of a
pilot, with a frozen snapshot of the summary it rested on and that snapshot's SHA-256.

Append-only by design: there is no PUT, PATCH or DELETE here. A later decision supersedes an earlier one
by being newer; the history keeps both. Deleting the pilot deletes its decisions with it.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path

from backend.analysis.service import analyse_pilot
from backend.auth.guard import Principal, require
from backend.auth.roles import Permission
from backend.catalog import CatalogError, FieldError
from backend.errors import error_responses
from backend.routes.deps import MAX_ID, PilotId, SettingsDep, StoreDep
from backend.schemas import DecisionCreate, DecisionDetail, DecisionList, DecisionOut
from backend.views import decision_out

router = APIRouter(prefix="/pilots", tags=["decisions"], responses=error_responses(401, 403, 404, 413, 415, 422, 503))

DecisionId = Annotated[int, Path(ge=1, le=MAX_ID, description="a decision's id")]


@router.post("/{pilot_id}/decision", status_code=201, response_model=DecisionOut)
def record_decision(
    pilot_id: PilotId,
    body: DecisionCreate,
    principal: Annotated[Principal, require(Permission.DECIDE)],
    store: StoreDep,
    settings: SettingsDep,
) -> DecisionOut:
    """Record a decision on one arm, with a snapshot of the summary (provisional while runs are active)."""
    arms = [arm.name for arm in store.get_pilot(pilot_id=pilot_id).arms]
    if body.arm not in arms:
        message = f"is not an arm of pilot {pilot_id} (got {body.arm[:64]!r}); choose one of {', '.join(arms)}"
        raise CatalogError([FieldError("arm", message)])
    # The snapshot is what GET /summary?curves=none answers: every number on the page, without the curves.
    snapshot = analyse_pilot(store, pilot_id, settings.price_per_hour, [], settings.currency)
    decision = store.decisions.record(
        pilot_id=pilot_id,
        decision=body.decision,
        arm=body.arm,
        note=body.note,
        decided_by=principal.user.name,
        provisional=snapshot.provisional,
        summary=snapshot.to_jsonable(),
    )
    return decision_out(decision)


@router.get("/{pilot_id}/decisions", response_model=DecisionList, dependencies=[require(Permission.READ)])
def list_decisions(pilot_id: PilotId, store: StoreDep) -> DecisionList:
    """List a pilot's decisions, newest first (without their snapshots)."""
    return DecisionList(decisions=[decision_out(d) for d in store.decisions.history(pilot_id=pilot_id)])


@router.get(
    "/{pilot_id}/decisions/{decision_id}", response_model=DecisionDetail, dependencies=[require(Permission.READ)]
)
def get_decision(pilot_id: PilotId, decision_id: DecisionId, store: StoreDep) -> DecisionDetail:
    """Get one decision with the summary snapshot it rested on (its SHA-256 recomputes from it)."""
    decision = store.decisions.get(pilot_id=pilot_id, decision_id=decision_id)
    snapshot = json.loads(decision.summary or "{}")
    return DecisionDetail(**decision_out(decision).model_dump(), summary=snapshot)
