"""Health: 200 when the database answers (with the number of live workers), 503 otherwise."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.routes.deps import SettingsDep, StoreDep
from backend.schemas import HealthOut

router = APIRouter(prefix="/health", tags=["health"])
log = logging.getLogger(__name__)


# Public: a load balancer or container runtime probes it without credentials, and it says only "ok".
@router.get(
    "",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "database down"}},
    dependencies=[require(Permission.PUBLIC)],
)
def health(response: Response, store: StoreDep, settings: SettingsDep) -> HealthOut:
    """Report whether the database answers and how many workers were seen within two heartbeat timeouts."""
    try:
        store.ping()
        workers = len(store.list_workers(seen_within_s=2 * settings.heartbeat_timeout_s))
    except Exception as error:  # any failure to answer is "unavailable", never a 500
        log.warning("health check failed: %s", error)
        response.status_code = 503
        return HealthOut(
            status="unavailable", database=str(error).splitlines()[0] or type(error).__name__, workers=None
        )
    return HealthOut(status="ok", database="ok", workers=workers)
