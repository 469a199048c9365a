"""One reconciler among several API processes on one database (backend/store/lease.py, backend/dispatch.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from backend.app import create_app
from backend.dispatch import RECONCILER_LEASE
from backend.store import RunStatus, Store
from tests.support.api import RecordingQueue, create_pilot, open_api, start

ROUND_S = 0.1


def _until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_lease_is_taken_renewed_refused_and_taken_over(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.upgrade()
        assert store.leases.hold(name="job", holder="a", ttl_s=60)
        assert store.leases.hold(name="job", holder="a", ttl_s=60)  # renewed
        assert not store.leases.hold(name="job", holder="b", ttl_s=60)
        assert store.leases.holder(name="job") == "a"
        store.leases.release(name="job", holder="b")  # not b's: nothing happens
        assert store.leases.holder(name="job") == "a"
        store.leases.release(name="job", holder="a")
        assert store.leases.holder(name="job") is None
        assert store.leases.hold(name="job", holder="b", ttl_s=0.01)
        time.sleep(0.05)
        assert store.leases.hold(name="job", holder="a", ttl_s=60)  # b's expired
    finally:
        store.dispose()


def test_two_processes_one_reconciler_and_the_other_takes_over(database_url: str) -> None:
    fast = {"reconcile_every_s": ROUND_S, "heartbeat_timeout_s": 0.3, "max_attempts": 100}
    with open_api(database_url, **fast) as first:
        pilot_id = create_pilot(first, seeds=1)["id"]
        run_id = first.store.list_runs(pilot_id=pilot_id)[0].id
        first.queue.sent.clear()
        store = Store(database_url)
        second_queue = RecordingQueue(store=store)
        second = create_app(first.settings, store=store, queue=second_queue)
        try:
            with TestClient(second):
                leader = first.store.leases.holder(name=RECONCILER_LEASE)
                assert leader is not None
                # A run whose worker goes silent, three times: only the first process requeues and sends it.
                for attempt in range(3):
                    start(first.store, run_id)
                    _until(lambda: first.store.get_run(run_id=run_id).status == RunStatus.QUEUED)
                    _until(lambda: len(first.queue.sent) == attempt + 1)  # noqa: B023 (called at once)
                time.sleep(5 * ROUND_S)
                assert first.queue.sent == [(run_id, "cpu")] * 3 and second_queue.sent == []
                assert first.store.leases.holder(name=RECONCILER_LEASE) == leader
                first.client.__exit__(None, None, None)  # the first process stops: it releases the lease
                start(store, run_id)
                _until(lambda: store.get_run(run_id=run_id).status == RunStatus.QUEUED)
                _until(lambda: second_queue.sent == [(run_id, "cpu")])
                assert store.leases.holder(name=RECONCILER_LEASE) not in (None, leader)
        finally:
            store.dispose()
