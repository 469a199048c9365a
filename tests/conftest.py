"""Shared test set-up: one torch thread per test process and per process it starts, and databases of their own.

Every test that needs a database gets a new SQLite file, or a new PostgreSQL database (on the server at
127.0.0.1:5432 that CI runs) created for it and dropped afterwards, so tests can run in parallel.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

# The shared helpers assert too: have pytest explain their failures as it does a test's own asserts.
pytest.register_assert_rewrite("tests.support")

if TYPE_CHECKING:
    from backend.store import Store

if os.environ.get("PYTEST_XDIST_WORKER"):
    # The workers and servers the tests start inherit it: each xdist worker's processes train on one thread,
    # instead of every torch process spinning up a thread per core on cores the other xdist worker uses too.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch
    except ImportError:  # the API-only install has no torch; its tests do not need it
        pass
    else:
        torch.set_num_threads(1)

# Workers the tests start (``up``, fault tests, e2e) train at the tests' own priority: at the production
# default (WORKER_NICE 10, docs/design.md §6) a test waiting on training was starved by the other xdist
# worker's CPU-bound tests. tests/worker/test_priority.py sets its own.
os.environ.setdefault("WORKER_NICE", "0")

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            raise  # CI has PostgreSQL: a missing server is a failure there, not a skip
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of this test's own (SQLAlchemy URL)."""
    yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """A fresh SQLite file of this test's own (SQLAlchemy URL)."""
    return f"sqlite:///{tmp_path}/pilot.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """The same test on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/pilot.db"
    else:
        yield from _postgres_database()


@pytest.fixture
def another_database_url(database_url: str, tmp_path: object) -> Iterator[str]:
    """A second fresh, empty database of the same kind as ``database_url`` (a restore's target, ...)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/another.db"
    else:
        yield from _postgres_database()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on ``database_url`` (each test's own SQLite file, then PostgreSQL database)."""
    from backend.store import Store

    store = Store(database_url)
    store.upgrade()
    yield store
    store.dispose()
