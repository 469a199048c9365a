"""Named leases: one process among several does a singleton job (the reconciler) until its lease expires.

A lease is a row (name, holder, expires_at). :meth:`Leases.hold` takes it when it is free or expired, or
renews it for its holder, with one conditional UPDATE (or an INSERT for the first holder, where a second
concurrent INSERT fails on the primary key): atomic on SQLite and PostgreSQL alike, with no advisory lock
and no connection held between rounds. A holder that stops :meth:`release` s it, so another takes over at
its next round; one that dies without releasing is replaced once the lease expires. Expiry times come from
each process's clock: the processes sharing a database are assumed to keep time within a second or so.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.store.db import as_utc, transaction, utc_now
from backend.store.models import SqlLease


class Leases:
    """Reached as ``Store.leases``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def hold(self, *, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``ttl_s`` from now; whether ``holder`` holds it."""
        now = utc_now()
        expires = now + timedelta(seconds=ttl_s)
        try:
            with transaction(self._sessions) as session:
                taken = session.execute(
                    update(SqlLease)
                    .where(SqlLease.name == name, (SqlLease.holder == holder) | (SqlLease.expires_at < now))
                    .values(holder=holder, expires_at=expires)
                    .execution_options(synchronize_session=False)
                )
                if getattr(taken, "rowcount", 0):
                    return True
                if session.get(SqlLease, name) is not None:
                    return False  # held by another, and not expired
                session.add(SqlLease(name=name, holder=holder, expires_at=expires))
        except IntegrityError:
            return False  # another process inserted it first
        return True

    def release(self, *, name: str, holder: str) -> None:
        """Give the lease up now, if ``holder`` holds it."""
        with transaction(self._sessions) as session:
            session.execute(delete(SqlLease).where(SqlLease.name == name, SqlLease.holder == holder))

    def holder(self, *, name: str) -> str | None:
        """Who holds the lease now (None when nobody does, or it expired)."""
        with transaction(self._sessions) as session:
            row = session.scalars(select(SqlLease).where(SqlLease.name == name)).one_or_none()
            if row is None:
                return None
            expires = as_utc(row.expires_at)
            return row.holder if expires is not None and expires >= utc_now() else None
