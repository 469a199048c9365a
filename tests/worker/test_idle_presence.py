"""An idle worker stays online: it reports itself at least once per heartbeat timeout (worker/lifecycle.py).

The API counts a worker as online while it was seen within two heartbeat timeouts (``/api/v1/health``, the
workers page, ``auto`` queue routing). An idle worker used to report every 10 s whatever the timeout, so with
``HEARTBEAT_TIMEOUT_S`` under 5 s it dropped out of the list between two reports.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from backend.settings import Settings
from backend.store import Store
from tests.support.processes import Processes, embedded_worker_env, wait_for, worker_command

HEARTBEAT_TIMEOUT_S = 2.0
WATCH_S = 12.0  # longer than the old fixed 10 s between idle reports


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_an_idle_worker_is_never_missing_from_the_online_workers(tmp_path: Path) -> None:
    env = embedded_worker_env(tmp_path, HEARTBEAT_TIMEOUT_S=str(HEARTBEAT_TIMEOUT_S))
    store = Store(env["DATABASE_URL"])
    store.upgrade()
    processes = Processes(tmp_path)
    window_s = Settings(heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S).workers_seen_within_s  # as the API asks
    try:
        worker = processes.start("worker", worker_command("idle-test"), env)

        def online() -> bool:
            assert worker.alive(), worker.text()[-3000:]
            return bool(store.list_workers(seen_within_s=window_s))

        wait_for("the worker to report itself", online, timeout_s=120, every_s=0.25)
        missing: list[float] = []
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < WATCH_S:
            if not online():
                missing.append(round(elapsed, 1))
            time.sleep(0.2)
        assert missing == [], f"the idle worker was not online at these seconds: {missing}\n{worker.text()[-2000:]}"
    finally:
        processes.stop_all()
        store.dispose()
