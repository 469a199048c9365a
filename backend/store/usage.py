"""What the spending limits count: a user's active runs, the pilots that use a dataset, per-user raises.

Reached as ``Store.usage``; the rules themselves are ``backend.quotas`` (this module only reads and writes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.store.account_changes import note_change
from backend.store.db import transaction
from backend.store.entities import ACTIVE_STATUSES, NotFound
from backend.store.models import SqlPilot, SqlRun, SqlUser

_ACTIVE = [status.value for status in ACTIVE_STATUSES]


class Usage:
    """Each method runs in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def active_runs(self, *, user_name: str) -> int:
        """Queued, running and cancelling runs of the pilots ``user_name`` owns."""
        with transaction(self._sessions) as session:
            query = (
                select(func.count())
                .select_from(SqlRun)
                .join(SqlPilot, SqlPilot.id == SqlRun.pilot_id)
                .where(SqlPilot.created_by == user_name, SqlRun.status.in_(_ACTIVE))
            )
            return int(session.scalar(query) or 0)

    def active_pilots_using(self, *, dataset: str, paths: Iterable[str]) -> list[int]:
        """Ids of pilots of ``dataset`` with a queued or running run whose ``dataset_params.path`` is in ``paths``."""
        wanted = set(paths)
        with transaction(self._sessions) as session:
            rows = session.execute(
                select(SqlPilot.id, SqlPilot.dataset_params)
                .where(SqlPilot.dataset == dataset)
                .where(SqlPilot.id.in_(select(SqlRun.pilot_id).where(SqlRun.status.in_(_ACTIVE))))
                .order_by(SqlPilot.id)
            )
            return [pilot_id for pilot_id, params in rows if str((params or {}).get("path", "")) in wanted]

    def user_limits(self, *, name: str) -> dict[str, float]:
        """An admin's raises for this user (empty: the settings' defaults apply); unknown user: empty."""
        with transaction(self._sessions) as session:
            limits = session.scalar(select(SqlUser.limits).where(SqlUser.name == name))
            return {str(key): float(value) for key, value in (limits or {}).items()}

    def set_user_limits(self, *, name: str, changes: Mapping[str, float | None]) -> dict[str, float]:
        """Set (a number) or drop (None: back to the default) some of a user's limits; returns them all."""
        with transaction(self._sessions) as session:
            row = session.scalar(select(SqlUser).where(SqlUser.name == name))
            if row is None:
                raise NotFound(f"no user named {name!r}")
            limits = dict(row.limits or {})
            for key, value in changes.items():
                if value is None:
                    limits.pop(key, None)
                else:
                    limits[key] = value
            row.limits = limits or None
            answer = {str(key): float(value) for key, value in limits.items()}
        note_change()  # a kept sign-in carries the user as it was (backend/auth/signins.py)
        return answer
