"""The store: SQLAlchemy tables, migrations and the data-access functions (SQLAlchemy only: no FastAPI,
no torch, no Celery, so the worker can use it)."""

from backend.store.db import StoreUnavailable
from backend.store.entities import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    Arm,
    ArmInput,
    Conflict,
    MetricPoint,
    MetricSeries,
    MetricSeriesJson,
    NotFound,
    Pilot,
    PilotSummary,
    Run,
    RunInput,
    RunStatus,
    StoreError,
    Worker,
)
from backend.store.store import Store, pilot_status

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "Arm",
    "ArmInput",
    "Conflict",
    "MetricPoint",
    "MetricSeries",
    "MetricSeriesJson",
    "NotFound",
    "Pilot",
    "PilotSummary",
    "Run",
    "RunInput",
    "RunStatus",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Worker",
    "pilot_status",
]
