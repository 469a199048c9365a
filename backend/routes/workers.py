"""Workers: the processes seen recently, their device and current run, and the depth of each queue."""

from __future__ import annotations

from fastapi import APIRouter

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.errors import error_responses
from backend.routes.deps import QueueDep, SettingsDep, StoreDep
from backend.schemas import WorkersOut
from backend.views import worker_out

router = APIRouter(prefix="/workers", tags=["workers"], responses=error_responses(401, 403, 503))


@router.get("", response_model=WorkersOut, dependencies=[require(Permission.READ)])
def list_workers(store: StoreDep, queue: QueueDep, settings: SettingsDep) -> WorkersOut:
    """List workers seen within two heartbeat timeouts, with their device and current run, and queue depths."""
    window = 2 * settings.heartbeat_timeout_s
    workers = store.list_workers(seen_within_s=window)
    return WorkersOut(workers=[worker_out(w) for w in workers], queue_depths=queue.depths(), seen_within_s=window)
