"""Workers: the processes seen recently, their device and current run, and the depth of each queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from backend.auth.guard import Principal, require
from backend.auth.roles import Permission, Role
from backend.errors import error_responses
from backend.routes.deps import QueueDep, SettingsDep, StoreDep
from backend.schemas import WorkersOut
from backend.views import worker_out

router = APIRouter(prefix="/workers", tags=["workers"], responses=error_responses(401, 403, 503))


@router.get("", response_model=WorkersOut)
def list_workers(
    store: StoreDep, queue: QueueDep, settings: SettingsDep, principal: Annotated[Principal, require(Permission.READ)]
) -> WorkersOut:
    """List workers seen within two heartbeat timeouts, with their device and current run, and queue depths."""
    window = settings.workers_seen_within_s
    workers = [worker_out(w) for w in store.list_workers(seen_within_s=window)]
    if principal.user.role != Role.ADMIN:  # the machines' names are the server's business: admins only
        workers = [w.model_copy(update={"host": None}) for w in workers]
    return WorkersOut(workers=workers, queue_depths=queue.depths(), seen_within_s=window)
