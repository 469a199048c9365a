"""Dump and load the database as one file: pg_dump/pg_restore (custom format) or SQLite's online backup API.

Both are consistent snapshots taken while the service runs: pg_dump reads in one transaction, and SQLite's
backup API copies the pages of one state of the file (restarting if a writer changes it meanwhile).
The PostgreSQL password never appears on a command line: it goes to pg_dump through ``PGPASSWORD``.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import URL, make_url

from backend.store import Store

# File names inside a backup folder, by dialect.
DUMP_FILES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite"}


class DumpError(Exception):
    """The dump or the load failed; the message is one line that says why."""


def dialect(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DUMP_FILES:
        raise DumpError(f"DATABASE_URL names a {name} database; backups support postgresql and sqlite")
    return name


def alembic_revision(store: Store) -> str | None:
    """The schema revision of the database, or None when it has no schema."""
    if "alembic_version" not in inspect(store.engine).get_table_names():
        return None
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def table_names(store: Store) -> list[str]:
    return sorted(inspect(store.engine).get_table_names())


def drop_every_table(store: Store) -> None:
    """Empty the database (restore --force): every table in it, ours or not, so the dump loads cleanly."""
    metadata = MetaData()
    metadata.reflect(store.engine)
    metadata.drop_all(store.engine)


def server_version(store: Store) -> str:
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "postgresql":
            return str(connection.execute(text("SELECT version()")).scalar()).split(" on ")[0]
        return f"SQLite {connection.execute(text('SELECT sqlite_version()')).scalar()}"


def dump(store: Store, target: Path) -> str:
    """Write the database into ``target``; returns the tool that did it (for the manifest)."""
    if store.engine.dialect.name == "sqlite":
        _sqlite_copy(_sqlite_path(store.engine.url), target)
        return f"sqlite3 backup API (SQLite {sqlite3.sqlite_version})"
    tool = _pg_tool("pg_dump", store)
    _run_pg(
        [tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", f"--dbname={_conninfo(store)}"],
        store,
    )
    return _tool_version(tool)


def load(store: Store, source: Path) -> None:
    """Load a dump made by :func:`dump` into the (empty) database of ``store``."""
    if store.engine.dialect.name == "sqlite":
        store.dispose()
        _sqlite_copy(source, _sqlite_path(store.engine.url))
        return
    tool = _pg_tool("pg_restore", store)
    # --no-owner: the objects belong to whoever restores (the deployment's user, which may have another name).
    command = [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    _run_pg([*command, f"--dbname={_conninfo(store)}", str(source)], store)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise DumpError("DATABASE_URL names an in-memory SQLite database: there is no file to back up")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise DumpError(f"no SQLite database at {source}")
    try:
        with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
            reader.backup(writer)
        # Context managers of sqlite3 connections commit; they do not close.
        reader.close()
        writer.close()
    except sqlite3.Error as error:
        raise DumpError(f"cannot copy the SQLite database {source} to {target}: {error}") from None


def _pg_tool(name: str, store: Store) -> str:
    """The path of pg_dump or pg_restore, checked to be at least as new as the server (older ones refuse)."""
    tool = shutil.which(name)
    if tool is None:
        raise DumpError(f"{name} is not installed: install the PostgreSQL client (Debian: postgresql-client)")
    client_major = _major(_tool_version(tool))
    with store.engine.connect() as connection:
        server_major = int(str(connection.execute(text("SHOW server_version_num")).scalar())) // 10000
    if client_major is not None and client_major < server_major:
        raise DumpError(
            f"{name} is version {client_major} but the server is PostgreSQL {server_major}: install "
            f"postgresql-client-{server_major} (the PostgreSQL project's apt repository has it)"
        )
    return tool


def _tool_version(tool: str) -> str:
    result = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False, timeout=30)
    return result.stdout.strip()


def _major(version: str) -> int | None:
    match = re.search(r"(\d+)(?:\.\d+)?", version)
    return int(match.group(1)) if match else None


def _conninfo(store: Store) -> str:
    """A libpq URL without the password (it goes through PGPASSWORD): what pg_dump and pg_restore take."""
    url = store.engine.url.set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def _run_pg(command: list[str], store: Store) -> None:
    env = dict(os.environ)
    if store.engine.url.password is not None:
        env["PGPASSWORD"] = str(store.engine.url.password)
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit code {result.returncode}"
        raise DumpError(f"{Path(command[0]).name} failed: {reason}")
