"""Decisions on pilots: an append-only record (issue 11 §5). There is deliberately no update and no delete
here; a decision goes only with its pilot (``ON DELETE CASCADE``).

Each decision keeps a frozen snapshot of the summary it rested on, as canonical JSON text, and that text's
SHA-256: anyone holding the snapshot can recompute the hash with :func:`summary_sha256`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.store.db import as_utc, transaction, utc_now
from backend.store.entities import Decision, NotFound
from backend.store.models import SqlDecision, SqlPilot
from backend.store.rows import entity_from
from backend.store.versions import bump_pilot


def canonical_json(value: Any) -> str:
    """Keys sorted, no spaces, no NaN (the summary has none: ``jsonable`` makes them null): one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def summary_sha256(snapshot: Any) -> str:
    """The hex SHA-256 of the UTF-8 canonical JSON of ``snapshot``."""
    return hashlib.sha256(canonical_json(snapshot).encode("utf-8")).hexdigest()


def _decision(row: Any, summary: str | None = None) -> Decision:
    """A decision from an ORM row or a row of the ``_BRIEF`` columns."""
    return entity_from(Decision, row, decided_at=as_utc(row.decided_at) or row.decided_at, summary=summary)


# Every column but the snapshot, for lists: a snapshot is tens of kilobytes on a big pilot.
_BRIEF = [c for c in SqlDecision.__table__.c if c.name != "summary"]


class Decisions:
    """Reached as ``Store.decisions``; each method runs in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @staticmethod
    def _check_pilot(session: Session, pilot_id: int) -> None:
        # The id alone: loading the row would decode its JSON columns on every read of the decisions.
        if session.scalar(select(SqlPilot.id).where(SqlPilot.id == pilot_id)) is None:
            raise NotFound(f"pilot {pilot_id} does not exist")

    def record(
        self,
        *,
        pilot_id: int,
        decision: str,
        arm: str,
        note: str,
        decided_by: str,
        provisional: bool,
        summary: Any,
    ) -> Decision:
        """Append a decision with the snapshot ``summary`` (any JSON value), stored canonically with its hash."""
        text = canonical_json(summary)
        row = SqlDecision(
            pilot_id=pilot_id,
            decision=decision,
            arm=arm,
            note=note,
            decided_by=decided_by,
            decided_at=utc_now(),
            provisional=provisional,
            summary_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            summary=text,
        )
        with transaction(self._sessions) as session:
            self._check_pilot(session, pilot_id)
            session.add(row)
            session.flush()
            bump_pilot(session, pilot_id)  # whatever is cached from the pilot's state is re-read with its decision
            return _decision(row, row.summary)

    def history(self, *, pilot_id: int) -> list[Decision]:
        """A pilot's decisions, newest first (ids grow with time; two in the same microsecond stay ordered)."""
        with transaction(self._sessions) as session:
            self._check_pilot(session, pilot_id)
            rows = session.execute(
                select(*_BRIEF).where(SqlDecision.pilot_id == pilot_id).order_by(SqlDecision.id.desc())
            )
            return [_decision(row) for row in rows]

    def get(self, *, pilot_id: int, decision_id: int) -> Decision:
        """One decision of this pilot, with its snapshot."""
        with transaction(self._sessions) as session:
            row = session.get(SqlDecision, decision_id)
            if row is None or row.pilot_id != pilot_id:
                self._check_pilot(session, pilot_id)
                raise NotFound(f"pilot {pilot_id} has no decision {decision_id}")
            return _decision(row, row.summary)

    def latest(self, *, pilot_ids: Sequence[int]) -> dict[int, Decision]:
        """The newest decision of each of these pilots that has one, in one query (the pilots list)."""
        if not pilot_ids:
            return {}
        newest = (
            select(func.max(SqlDecision.id))
            .where(SqlDecision.pilot_id.in_(list(pilot_ids)))
            .group_by(SqlDecision.pilot_id)
        )
        with transaction(self._sessions) as session:
            rows = session.execute(select(*_BRIEF).where(SqlDecision.id.in_(newest)))
            return {row.pilot_id: _decision(row) for row in rows}
