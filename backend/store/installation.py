"""Facts about the deployment as a whole, kept in the one-row ``installation`` table.

The artifact store's id: a random value created once, which the API also writes into a marker file in
``ARTIFACT_DIR`` (``pilot_cli.artifact_store``). A worker that sees the same id in its own ``ARTIFACT_DIR``
sees the same files as the API, so a run checkpointed elsewhere can resume there.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.store.db import transaction, utc_now
from backend.store.models import SqlInstallation

_ROW_ID = 1


class Installation:
    """Reached as ``Store.installation``; each method runs in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def artifact_store_id(self) -> str | None:
        """The artifact store's id, or None before the API first started on this database."""
        with transaction(self._sessions) as session:
            return session.scalar(select(SqlInstallation.artifact_store_id).where(SqlInstallation.id == _ROW_ID))

    def ensure_artifact_store_id(self) -> str:
        """The artifact store's id, created (random, 128 bits) on the first call; the same for every caller.

        Two APIs starting at once both try to insert row 1: one wins, the other reads the winner's id.
        """
        existing = self.artifact_store_id()
        if existing is not None:
            return existing
        try:
            with transaction(self._sessions) as session:
                session.add(SqlInstallation(id=_ROW_ID, artifact_store_id=secrets.token_hex(16), created_at=utc_now()))
        except IntegrityError:
            pass
        created = self.artifact_store_id()
        assert created is not None  # inserted by this call or by the one that won the race
        return created
