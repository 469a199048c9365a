"""Pilots side by side (issue 16): ``GET /api/v1/compare?pilots=3,7``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from backend.auth.guard import require
from backend.auth.roles import Permission
from backend.compare import compare_pilots
from backend.errors import error_responses
from backend.routes.deps import SettingsDep, StoreDep, SummaryCacheDep
from pilot_spec.analysis import PilotComparison
from pilot_spec.compare import COMPARE_MAX, COMPARE_MIN, CompareListError, parse_pilot_ids

router = APIRouter(tags=["analysis"], responses=error_responses(401, 403, 404, 422, 503))

PilotsQuery = Annotated[
    str | None,
    Query(
        max_length=20 * COMPARE_MAX,
        description=f"{COMPARE_MIN} to {COMPARE_MAX} pilot ids, comma-separated (e.g. 3,7), each once",
    ),
]


# READ, as every pilot's GET: each role may read every pilot (backend/auth/roles.py), so whoever may read one
# pilot's summary may put it beside others.
@router.get("/compare", response_model=PilotComparison, dependencies=[require(Permission.READ)])
def compare(
    store: StoreDep, settings: SettingsDep, cache: SummaryCacheDep, pilots: PilotsQuery = None
) -> PilotComparison:
    """Compare pilots side by side: each one's arms with final test accuracy (mean and interval), cost per
    training run (money and device-hours), stability (flip rate, ECE, seed churn, inconsistency KL) and verdict.

    422 for a list that is not 2 to 12 distinct ids; 404 names the ids that do not exist."""
    try:
        ids = parse_pilot_ids(pilots)
    except CompareListError as error:
        # As FastAPI's own 422 for a query parameter: the body names the field (errors[].field == "pilots").
        raise RequestValidationError([{"loc": ("query", "pilots"), "msg": str(error), "type": "value_error"}]) from None
    return compare_pilots(store, cache, settings, ids)
