"""The reconciler's repair of lost broker messages, and why a duplicate message is harmless (no processes).

On a real store (SQLite, and the private PostgreSQL of the fault tests) with a broker stand-in that counts
its messages as Redis would: ``backend.dispatch.resend_lost`` sends again only what the broker is missing,
never floods a long healthy queue, and ``Store.claim_run`` lets exactly one of many deliveries win.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, update
from sqlalchemy.pool import NullPool

from backend.dispatch import reconcile_once, resend_after_s, resend_lost
from backend.settings import Settings
from backend.store import ArmInput, RunInput, RunStatus, Store
from backend.store.models import SqlRun
from tests.support.servers import PostgresServer


@dataclass
class Broker:
    """Counts messages per queue like the broker's depth; ``None`` is a broker that cannot be read."""

    waiting: dict[str, int | None] = field(default_factory=lambda: {"cpu": 0, "gpu": 0})
    sent: list[int] = field(default_factory=list)

    def enqueue(self, run_id: int, queue: str) -> None:
        self.sent.append(run_id)
        count = self.waiting.get(queue)
        if count is not None:
            self.waiting[queue] = count + 1

    def depths(self) -> dict[str, int | None]:
        return dict(self.waiting)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pilot.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("private_postgres")
        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        name = f"lost_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = server.url(name)
        request.addfinalizer(lambda: _drop(admin, name))
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def queued_runs(store: Store, count: int, *, queued_s_ago: float = 60.0) -> list[int]:
    """``count`` queued runs on the cpu queue, queued ``queued_s_ago`` seconds ago; their ids."""
    config = {"dataset": "digits", "model": "small_cnn", "arm": "none", "epochs": 1}
    runs = [RunInput(arm="none", seed=seed, config={**config, "seed": seed}, epochs_total=1) for seed in range(count)]
    pilot = store.create_pilot(
        name="lost messages", description="", dataset="digits", dataset_params={}, model="small_cnn", width=8,
        training={"epochs": 1}, seeds=list(range(count)), baseline_arm="none", roi={}, budget_cap=None,
        queue="cpu", created_by=None, arms=[ArmInput(name="none", regularizer="none")],
        runs=runs,
    )  # fmt: skip
    ids = [run.id for run in store.list_runs(pilot_id=pilot.id)]
    backdate(store, ids, queued_s_ago)
    return ids


def backdate(store: Store, ids: list[int], seconds: float) -> None:
    with store.engine.begin() as connection:
        then = datetime.now(UTC) - timedelta(seconds=seconds)
        connection.execute(update(SqlRun).where(SqlRun.id.in_(ids)).values(queued_at=then))


def test_a_long_healthy_queue_gets_no_duplicate(store: Store) -> None:
    ids = queued_runs(store, 50)
    broker = Broker(waiting={"cpu": 50, "gpu": 0})  # every queued run has its message
    for _ in range(3):
        assert resend_lost(store=store, queue=broker, sent_before_s=5) == []
    assert broker.sent == [] and len(ids) == 50


def test_a_broker_that_lost_everything_gets_every_queued_run_once(store: Store) -> None:
    ids = queued_runs(store, 4)
    broker = Broker()  # restarted empty
    resent = resend_lost(store=store, queue=broker, sent_before_s=5)
    assert sorted(run.id for run in resent) == ids and sorted(broker.sent) == ids
    # Sent again just now: the next rounds wait, even if the broker lost them once more.
    broker.waiting["cpu"] = 0
    assert resend_lost(store=store, queue=broker, sent_before_s=5) == []
    # Once that send is old too, a broker still missing them gets them again.
    with store.engine.begin() as connection:
        connection.execute(update(SqlRun).values(resent_at=datetime.now(UTC) - timedelta(seconds=10)))
    assert len(resend_lost(store=store, queue=broker, sent_before_s=5)) == 4


def test_a_partial_loss_sends_as_many_as_are_missing_least_recently_sent_first(store: Store) -> None:
    older = queued_runs(store, 2, queued_s_ago=120)
    newer = queued_runs(store, 2, queued_s_ago=60)
    broker = Broker(waiting={"cpu": 2, "gpu": 0})  # two of the four messages survived
    resent = resend_lost(store=store, queue=broker, sent_before_s=5)
    assert [run.id for run in resent] == older
    # The broker now counts four: if the two resent were not the lost ones, the lost ones go out once the
    # duplicates are consumed (the count drops below the queued runs again), least recently sent first.
    broker.waiting["cpu"] = 2
    # Just resent, the older two do not count yet; the newer two have their two messages, as far as we know.
    assert resend_lost(store=store, queue=broker, sent_before_s=5) == []
    backdate(store, older + newer, 300)
    with store.engine.begin() as connection:
        connection.execute(
            update(SqlRun).where(SqlRun.id.in_(older)).values(resent_at=datetime.now(UTC) - timedelta(seconds=10))
        )
    assert [run.id for run in resend_lost(store=store, queue=broker, sent_before_s=5)] == newer


def test_fresh_runs_and_an_unreadable_broker_send_nothing(store: Store) -> None:
    queued_runs(store, 3, queued_s_ago=0)
    assert resend_lost(store=store, queue=Broker(), sent_before_s=5) == []  # their first send is too recent
    queued_runs(store, 2)
    unreadable = Broker(waiting={"cpu": None, "gpu": None})
    assert resend_lost(store=store, queue=unreadable, sent_before_s=5) == [] and unreadable.sent == []


def test_reconcile_once_repairs_lost_messages_after_its_grace_period(store: Store, tmp_path: Path) -> None:
    settings = Settings(database_url=store.url, broker_url="memory://", artifact_dir=tmp_path, reconcile_every_s=10)
    assert resend_after_s(settings) == 30.0
    assert resend_after_s(settings.model_copy(update={"reconcile_every_s": 0.5})) == 5.0  # never below 5 s
    young = queued_runs(store, 1, queued_s_ago=10)
    old = queued_runs(store, 2, queued_s_ago=31)
    broker = Broker()
    assert reconcile_once(store=store, queue=broker, settings=settings) == ([], [])
    assert sorted(broker.sent) == old and young[0] not in broker.sent


def test_many_deliveries_of_one_run_start_it_once(store: Store) -> None:
    """Why duplicates are harmless: ``claim_run`` is one conditional UPDATE, so exactly one claimer wins."""
    [run_id] = queued_runs(store, 1)
    start = threading.Barrier(8)
    won: list[int] = []

    def deliver(worker: int) -> None:
        start.wait()
        claimed = store.claim_run(run_id=run_id, worker_host=f"w{worker}", device="cpu", stale_after_s=60)
        if claimed is not None:
            won.append(worker)

    threads = [threading.Thread(target=deliver, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    run = store.get_run(run_id=run_id)
    assert len(won) == 1 and run.status == RunStatus.RUNNING and run.attempts == 1
    assert run.worker_host == f"w{won[0]}"
    # A late duplicate of a finished run finds nothing to claim either.
    store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, attempt=1)
    assert store.claim_run(run_id=run_id, worker_host="late", device="cpu", stale_after_s=0) is None
