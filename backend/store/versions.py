"""Each pilot's version: a counter bumped in the same transaction as every write that changes what the
pilot's summary reads (a run's status or points, the ROI inputs, an extension, a sequential look, a
decision), so that ``(pilot id, version)`` names one state of the analysis and any process can cache it.

Several API processes share nothing but the database: each reads the version with one primary-key query
per request (:meth:`Versions.of`) and serves its own cached summary while the version is unchanged. The
bump is one ``UPDATE pilots SET version = version + 1`` by primary key (through the run's pilot id for the
run-level writes), done last in its transaction: the pilot's row stays locked as briefly as possible, and
every write locks the runs' rows before the pilot's (PostgreSQL), so two writes never wait on each other in
a cycle (a worker's points lock their run, then the pilot).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update

from backend.store.db import as_utc
from backend.store.models import SqlPilot, SqlRun

# The bump never touches loaded objects (synchronize_session=False): no entity carries the version.
# NULL only on a row written by code older than migration 0010 (whose default is 0).
NEXT_VERSION = func.coalesce(SqlPilot.version, 0) + 1
_VERSION = select(SqlPilot.version, SqlPilot.created_at).where(SqlPilot.id == bindparam("pilot_id"))
_ALL_VERSIONS = select(
    func.count(SqlPilot.id).label("pilots"),
    func.max(SqlPilot.id).label("highest"),
    func.sum(func.coalesce(SqlPilot.version, 0)).label("versions"),
    func.max(SqlPilot.created_at).label("newest"),
)
_BUMP = update(SqlPilot).values(version=NEXT_VERSION).execution_options(synchronize_session=False)


def bump_pilot(executor: Any, pilot_id: int) -> None:
    """Bump one pilot's version (``executor``: a Session or a Connection inside the change's transaction)."""
    executor.execute(_BUMP.where(SqlPilot.id == pilot_id))


def bump_runs(executor: Any, run_ids: Sequence[int]) -> None:
    """Bump the version of the pilot(s) these runs belong to; nothing when ``run_ids`` is empty."""
    if not run_ids:
        return
    owners = select(SqlRun.pilot_id).where(SqlRun.id.in_(list(run_ids)))
    executor.execute(_BUMP.where(SqlPilot.id.in_(owners)))


class Versions:
    """Reached as ``Store.versions``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def of(self, *, pilot_id: int) -> tuple[int, datetime] | None:
        """The pilot's version and creation time (which tells a re-used id apart), or None when it does not exist.

        Read on every cached request: one statement on a pooled connection, no ORM session.
        """
        with self._engine.connect() as connection:
            row = connection.execute(_VERSION, {"pilot_id": pilot_id}).one_or_none()
        if row is None:
            return None
        created = as_utc(row.created_at)
        assert created is not None  # created_at is never NULL
        return int(row.version or 0), created

    def of_all(self) -> tuple[int, int, int, str]:
        """A state of the whole pilots table that every change alters: (how many pilots, the highest id, the
        sum of the versions, the newest creation time). A change without creations or deletions raises the
        sum; deletions alone lower the count; a creation raises the newest creation time (even on a re-used
        id). One aggregate over the pilots' rows, no join: what the pilots list is cached by.
        """
        with self._engine.connect() as connection:
            row = connection.execute(_ALL_VERSIONS).one()
        newest = as_utc(row.newest)
        return int(row.pilots or 0), int(row.highest or 0), int(row.versions or 0), newest.isoformat() if newest else ""
