"""Health: 200 when the database answers (with the number of live workers), 503 otherwise.

Anonymous callers (a load balancer, a container runtime) get the status alone: the database's error text
and the worker count describe the deployment, so only signed-in callers see them.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request, Response

from backend.auth.guard import authenticate, require
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
def health(request: Request, response: Response, store: StoreDep, settings: SettingsDep) -> HealthOut:
    """Report whether the database answers and how many workers were seen within two heartbeat timeouts."""
    try:
        store.ping()
        workers = len(store.list_workers(seen_within_s=settings.workers_seen_within_s))
    except Exception as error:  # any failure to answer is "unavailable", never a 500
        log.warning("health check failed: %s", error)
        response.status_code = 503
        why = str(error).splitlines()[0] or type(error).__name__
        return (
            HealthOut(status="unavailable", database=why, workers=None) if _signed_in(request) else _bare("unavailable")
        )
    return HealthOut(status="ok", database="ok", workers=workers) if _signed_in(request) else _bare("ok")


def _bare(status: Literal["ok", "unavailable"]) -> HealthOut:
    return HealthOut(status=status, database=None, workers=None)


def _signed_in(request: Request) -> bool:
    try:
        return authenticate(request) is not None
    except Exception:  # the database that would check the credentials is down: treat the caller as anonymous
        return False
