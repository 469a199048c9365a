"""Helpers for the API tests: the real app on a real store, with only the enqueue call recorded.

Database URLs come from the fixtures in ``tests/conftest.py`` (a fresh SQLite file or PostgreSQL
database per test). Runs are driven through the store's methods exactly as a worker drives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from backend.app import create_app
from backend.auth.accounts import issue_token
from backend.auth.secrets import hash_password
from backend.queue import QueueUnavailable
from backend.settings import Settings
from backend.store import Run, RunStatus, Store

API = "/api/v1"
ADMIN = "admin"
# Every test user's password; hashed once per process (argon2 costs tens of milliseconds by design).
PASSWORD = "correct horse battery"
_HASHES: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


def add_user(store: Store, name: str, role: str, *, must_change_password: bool = False) -> str:
    """A user with ``PASSWORD`` and an API token for them; returns the token ("" for a user who must change
    their password: no token can be made for them)."""
    store.accounts.create_user(
        name=name, role=role, password_hash=password_hash(), must_change_password=must_change_password
    )
    return "" if must_change_password else issue_token(store, user_name=name, label="tests")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class RecordingQueue:
    """The queue client's interface; records what would be sent, and checks that the run was committed."""

    store: Store | None = None
    sent: list[tuple[int, str]] = field(default_factory=list)
    fail: bool = False
    queue_depths: dict[str, int | None] = field(default_factory=lambda: {"gpu": 0, "cpu": 0})

    def enqueue(self, run_id: int, queue: str) -> None:
        if self.fail:
            raise QueueUnavailable("broker redis://127.0.0.1:6379/0 did not take the run: connection refused")
        if self.store is not None:
            # The database is the source of truth: a run id is only sent once its run is committed.
            assert self.store.get_run(run_id=run_id).status == RunStatus.QUEUED
        self.sent.append((run_id, queue))

    def depths(self) -> dict[str, int | None]:
        return dict(self.queue_depths)


@dataclass
class Api:
    client: TestClient
    store: Store
    queue: RecordingQueue
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def as_user(self, name: str, role: str = "engineer") -> dict[str, str]:
        """Headers that authenticate as ``name`` (made with ``role`` on first use); pass as ``headers=``."""
        if name not in self.tokens:
            self.tokens[name] = add_user(self.store, name, role)
        return bearer(self.tokens[name])


@contextmanager
def open_api(database_url: str, **settings: Any) -> Iterator[Api]:
    """The app with its lifespan (schema upgrade, reconciler) on a fresh database.

    The client signs every request as the admin ``ADMIN`` with an API token; ``Api.as_user`` gives the
    headers of other users, and ``headers={"Authorization": ""}`` sends none.
    """
    # The broker is never reached (RecordingQueue); "memory://" keeps the default SQLite broker file away.
    options: dict[str, Any] = {
        "database_url": database_url,
        "broker_url": "memory://",
        "reconcile_every_s": 3600.0,
        **settings,
    }
    config = Settings(**options)
    store = Store(config.database_url)
    queue = RecordingQueue(store=store)
    app = create_app(config, store=store, queue=queue)
    try:
        with TestClient(app) as client:
            token = add_user(store, ADMIN, "admin")
            client.headers.update(bearer(token))
            yield Api(client=client, store=store, queue=queue, settings=config, tokens={ADMIN: token})
    finally:
        store.dispose()


def pilot_body(**overrides: Any) -> dict[str, Any]:
    """A small valid pilot: digits, two arms, two seeds, two epochs."""
    body: dict[str, Any] = {
        "name": "digits: rblock_s against none",
        "dataset": "digits",
        "model": "small_cnn",
        "training": {"epochs": 2},
        "arms": [{"regularizer": "none"}, {"regularizer": "rblock_s", "params": {"drop_prob": 0.2}}],
        "seeds": 2,
        "queue": "cpu",
    }
    body.update(overrides)
    return body


def create_pilot(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.client.post(f"{API}/pilots", json=pilot_body(**overrides))
    assert response.status_code == 201, response.text
    pilot: dict[str, Any] = response.json()["pilot"]
    return pilot


def start(store: Store, run_id: int, *, device: str = "cpu", stale_after_s: float = 60.0) -> Run:
    """Claim a run as a worker does."""
    run = store.claim_run(run_id=run_id, worker_host="test-host", device=device, stale_after_s=stale_after_s)
    assert run is not None and run.status == RunStatus.RUNNING
    return run


def finish(
    store: Store,
    run_id: int,
    status: RunStatus = RunStatus.SUCCEEDED,
    *,
    device: str = "cpu",
    hours: float = 0.5,
    samples_per_second: float = 1000.0,
    points: Sequence[tuple[str, int, float]] = (),
) -> Run:
    """Claim, write points, and finish a run as a worker does."""
    start(store, run_id, device=device)
    if points:
        store.write_points(run_id=run_id, points=points)
    kind, _, name = device.partition(":")
    cost = {
        "device_hours": hours,
        "device_kind": kind,
        "device_name": name or kind,
        "samples_per_second": samples_per_second,
    }
    error = "NaN loss at epoch 1" if status == RunStatus.FAILED else None
    return store.finish_run(run_id=run_id, status=status, error=error, cost=cost, final_metrics={"test_acc": 0.9})
