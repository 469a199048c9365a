"""Fixtures of the fault tests: private Redis and PostgreSQL servers (per session), a service on them (per test).

Each test gets a fresh database on the private PostgreSQL and an emptied private Redis; its processes are
stopped, and their logs printed when it failed (``tests.support.faults.Service``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from backend.queue import QueueClient
from backend.settings import Settings
from backend.store import Store
from tests.support.faults import HEARTBEAT_TIMEOUT_S, RECONCILE_EVERY_S, Service
from tests.support.processes import Processes, base_env
from tests.support.servers import PostgresServer, RedisServer, postgres_missing, redis_missing

# -- servers -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def private_redis() -> Iterator[RedisServer]:
    reason = redis_missing()
    if reason:
        pytest.skip(reason)
    server = RedisServer(directory=Path(tempfile.mkdtemp(prefix="rblock-faults-redis-")))
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PostgresServer]:
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def service(
    private_redis: RedisServer, private_postgres: PostgresServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Service]:
    """A fresh database on the private PostgreSQL, an emptied private Redis, and no process yet."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    # No pool: a connection kept from before a restart would be dead at the DROP below.
    admin = create_engine(private_postgres.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    private_redis.flush()
    settings = Settings(
        database_url=private_postgres.url(name),
        broker_url=private_redis.url(),
        artifact_dir=tmp_path / "artifacts",
        heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        reconcile_every_s=RECONCILE_EVERY_S,
    )
    env = base_env(
        DATABASE_URL=settings.database_url,
        BROKER_URL=settings.broker_url,
        ARTIFACT_DIR=str(settings.artifact_dir),
        HEARTBEAT_TIMEOUT_S=str(HEARTBEAT_TIMEOUT_S),
        RECONCILE_EVERY_S=str(RECONCILE_EVERY_S),
    )
    store = Store(settings.database_url)
    store.upgrade()  # as the API does at start
    service = Service(
        settings=settings,
        env=env,
        store=store,
        queue=QueueClient(settings),
        processes=Processes(tmp_path),
        redis=private_redis,
        postgres=private_postgres,
    )
    started = time.monotonic()
    try:
        yield service
    finally:
        service.close()
        call = getattr(request.node, "rep_call", None)
        if call is not None and call.failed:
            print(service.processes.report())
        print(f"\n({request.node.name}: {time.monotonic() - started:.1f} s)")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report
