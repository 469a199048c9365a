"""A pilot's notes and tags (issue 16): what its owner writes about it, shown in the list and on its page.

Notes are a column of the pilot, tags a row each in ``pilot_tags`` (a search matches them by index). Both are
read for a page of pilots in one query each (:meth:`Annotations.of`), like the latest decisions. A change bumps
the pilot's version in its transaction (``versions.py``) so that whatever is cached from the pilot is re-read.
The text is checked by the API (``pilot_spec.annotations``); the store keeps what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from backend.store.db import transaction, utc_now
from backend.store.entities import NotFound
from backend.store.models import SqlPilot, SqlPilotTag
from backend.store.versions import bump_pilot


@dataclass(frozen=True)
class Annotation:
    """A pilot's notes ("" when none) and tags in the order its owner gave them."""

    notes: str = ""
    tags: list[str] = field(default_factory=list)


class Annotations:
    """Reached as ``Store.annotations``; each method runs in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def of(self, *, pilot_ids: Sequence[int]) -> dict[int, Annotation]:
        """The notes and tags of each of these pilots that exists (two queries for a whole page)."""
        if not pilot_ids:
            return {}
        ids = list(pilot_ids)
        with transaction(self._sessions) as session:
            notes = dict(session.execute(select(SqlPilot.id, SqlPilot.notes).where(SqlPilot.id.in_(ids))).all())
            tags: dict[int, list[str]] = {}
            rows = session.execute(
                select(SqlPilotTag.pilot_id, SqlPilotTag.tag)
                .where(SqlPilotTag.pilot_id.in_(ids))
                .order_by(SqlPilotTag.pilot_id, SqlPilotTag.position)
            )
            for pilot_id, tag in rows:
                tags.setdefault(pilot_id, []).append(tag)
            return {i: Annotation(notes=text or "", tags=tags.get(i, [])) for i, text in notes.items()}

    def update(self, *, pilot_id: int, notes: str | None = None, tags: Sequence[str] | None = None) -> Annotation:
        """Replace the notes, the tags, or both (None leaves one as it is); ``NotFound``."""
        with transaction(self._sessions) as session:
            row = session.get(SqlPilot, pilot_id)
            if row is None:
                raise NotFound(f"pilot {pilot_id} does not exist")
            if notes is not None:
                row.notes = notes
            if tags is not None:
                session.execute(delete(SqlPilotTag).where(SqlPilotTag.pilot_id == pilot_id))
                session.add_all(SqlPilotTag(pilot_id=pilot_id, tag=t, position=i) for i, t in enumerate(tags))
            row.updated_at = utc_now()
            session.flush()
            bump_pilot(session, pilot_id)
            current = session.scalars(
                select(SqlPilotTag.tag).where(SqlPilotTag.pilot_id == pilot_id).order_by(SqlPilotTag.position)
            )
            return Annotation(notes=row.notes or "", tags=list(current))
