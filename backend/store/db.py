"""Engines and sessions: SQLite tuned for a web server and a worker writing at once, PostgreSQL as is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from backend.files import private_file
from backend.store.entities import StoreError


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything the store writes is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class StoreUnavailable(StoreError):
    """The database cannot be reached or the URL is wrong; the message is one line that says which."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a malformed URL or an unknown driver raises :class:`StoreUnavailable`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUnavailable(f"DATABASE_URL {url!r} is not a database URL (e.g. sqlite:///var/pilot.db)") from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            private_file(Path(parsed.database))  # 0600: it holds password hashes and CSRF tokens
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        if parsed.database and parsed.database != ":memory:":
            # SQLAlchemy's default pool keeps 5 connections; under load an API process uses more at once, and each
            # one past 5 was opened (four PRAGMAs) and closed again per request. A SQLite connection is a file
            # handle: keep as many as the API's concurrent reads and their page calls use.
            kwargs.update(pool_size=20, max_overflow=20)
    else:
        # A server may drop an idle pooled connection (a restart, a proxy's timeout): test each before use. A
        # SQLite file never drops one, and the test (a SELECT 1 per checkout) cost every cached request a statement.
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as error:
        raise StoreUnavailable(f"DATABASE_URL {url!r}: no driver for it ({error})") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; foreign keys make deletes cascade as on PostgreSQL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
