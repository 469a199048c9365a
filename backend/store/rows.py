"""SQLAlchemy rows to the store's entities, and the reads every part of the store shares.

Rows never leave the store: each part (pilots, runs, metrics, workers, extensions) turns them into the
frozen entities of ``entities.py`` with these functions, so a column is mapped in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from backend.store.db import as_utc, utc_now
from backend.store.entities import Arm, NotFound, Pilot, Run, RunStatus
from backend.store.models import SqlArm, SqlPilot, SqlRun

E = TypeVar("E")


class StorePart:
    """What each part of :class:`backend.store.Store` reaches: the engine and the session factory.

    ``Store`` sets both in its constructor; the parts are mixins so that the store stays one front object
    with one flat API (``store.claim_run(...)``), as its callers use it.
    """

    engine: Engine
    _sessions: sessionmaker[Session]


def arm_entity(row: SqlArm) -> Arm:
    return Arm(id=row.id, pilot_id=row.pilot_id, name=row.name, regularizer=row.regularizer, params=dict(row.params))


def entity_from(entity: type[E], row: Any, **converted: Any) -> E:
    """The frozen entity ``entity`` from an ORM row (or a row of selected columns): each field is the row's
    attribute of the same name, unless given here converted (a copied dict, an aware datetime, a status)."""
    make = cast(Callable[..., E], entity)
    names = [f.name for f in fields(cast(Any, entity))]
    return make(**{name: converted[name] if name in converted else getattr(row, name) for name in names})


def pilot_entity(row: SqlPilot) -> Pilot:
    return entity_from(
        Pilot,
        row,
        dataset_params=dict(row.dataset_params),
        training=dict(row.training),
        seeds=list(row.seeds),
        roi=dict(row.roi),
        created_at=as_utc(row.created_at) or utc_now(),
        updated_at=as_utc(row.updated_at) or utc_now(),
        arms=[arm_entity(a) for a in row.arms],
        sequential=dict(row.sequential) if row.sequential else None,
    )


def run_entity(row: SqlRun, arm_name: str) -> Run:
    return entity_from(
        Run,
        row,
        arm=arm_name,
        status=RunStatus(row.status),
        config=dict(row.config),
        queued_at=as_utc(row.queued_at),
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        heartbeat_at=as_utc(row.heartbeat_at),
        earlier_device_hours={str(k): float(v) for k, v in (row.earlier_device_hours or {}).items()},
    )


def pilot_row(session: Session, pilot_id: int) -> SqlPilot:
    """The pilot's row with its arms; :class:`NotFound` when there is none."""
    row = session.get(SqlPilot, pilot_id, options=[selectinload(SqlPilot.arms)])
    if row is None:
        raise NotFound(f"pilot {pilot_id} does not exist")
    return row


def select_runs(session: Session, *conditions: Any) -> list[Run]:
    """The runs matching ``conditions``, with their arms' names, in id order."""
    query = select(SqlRun, SqlArm.name).join(SqlArm, SqlRun.arm_id == SqlArm.id).where(*conditions)
    return [run_entity(row, name) for row, name in session.execute(query.order_by(SqlRun.id))]


def changed(session: Session, statement: Any) -> int:
    """Execute an UPDATE/DELETE and return how many rows it changed."""
    result = session.execute(statement)
    return int(cast(CursorResult[Any], result).rowcount)
