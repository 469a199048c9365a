"""Extending a pilot in place: more seeds for every arm, more arms on every seed (``backend.extension``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from backend.auth.guard import Principal, require
from backend.auth.roles import Permission
from backend.errors import error_responses
from backend.extension import apply_extension, plan_extension
from backend.routes.deps import CatalogDep, PilotId, QueueDep, SettingsDep, StoreDep, dry_run_post
from backend.schemas import ExtensionOut, PilotExtend
from backend.store import Run
from backend.views import run_out

router = APIRouter(prefix="/pilots", tags=["pilots"], responses=error_responses(401, 403, 404, 409, 413, 415, 422, 503))


@dry_run_post(router, "/{pilot_id}/extend", ExtensionOut)
def extend_pilot(
    pilot_id: PilotId,
    body: PilotExtend,
    _: Annotated[Principal, require(Permission.MANAGE_OWN_PILOTS)],
    response: Response,
    store: StoreDep,
    queue: QueueDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> ExtensionOut:
    """Add N seeds to every arm and/or new arms on every seed (201), or only estimate it (dry_run: 200).

    The budget cap applies to the pilot's total; owner or admin only.
    """
    plan = plan_extension(pilot_id, body, catalog=catalog, store=store, settings=settings)
    runs: list[Run] = []
    if body.dry_run:
        response.status_code = 200
    else:
        runs = apply_extension(plan, store=store, queue=queue)[1]
    return ExtensionOut(
        dry_run=body.dry_run,
        queue=plan.queue,
        seeds=plan.new_seeds,
        arms=[arm.name for arm in plan.new_arms],
        estimate=plan.estimate,
        total=plan.total,
        runs=[run_out(run) for run in runs],
    )
