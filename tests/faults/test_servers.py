"""Faults of the servers under a working service: Redis and PostgreSQL restarted mid-pilot (issue 7 §3).

The servers are private (``tests.support.servers``): restarting them leaves the shared ones, and the tests
running against those in parallel, alone. Each test prints one ``FAULT ...`` summary line (also appended to
the file ``FAULT_REPORT`` names).
"""

from __future__ import annotations

import time

import pytest

from backend.store import RunStatus
from tests.support.faults import Service, check_and_report
from tests.support.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(150)]


def test_runs_queued_when_redis_restarts_all_complete(service: Service) -> None:
    """Redis forgets the queued run ids (no persistence); the reconciler sends them again from the database."""
    # No run loses its worker here: a long timeout keeps a slow evaluation on a loaded machine from looking so.
    service.configure(heartbeat_timeout_s=30)
    service.start_workers("faults-redis")
    service.start_reconciler()
    runs = service.submit("faults: redis restart", arms=["none", "rblock_b"], seeds=2, epochs=2)

    def one_training_three_waiting() -> bool:
        statuses = [service.store.get_run(run_id=run.id).status for run in runs]
        return statuses.count(RunStatus.RUNNING) == 1 and statuses.count(RunStatus.QUEUED) == 3

    wait_for("one run training and three queued", one_training_three_waiting, timeout_s=60, every_s=0.05)
    waiting = service.queue.depths()["cpu"]
    assert waiting == 3, f"the broker should hold the three queued runs' ids, it holds {waiting}"
    service.redis.restart()
    assert service.queue.depths()["cpu"] == 0  # every message the broker held is gone

    finished = service.wait_finished(runs, timeout_s=100)
    assert [run.status for run in finished] == [RunStatus.SUCCEEDED] * 4, [(r.id, r.status, r.error) for r in finished]
    assert all(run.attempts == 1 for run in finished), [(r.id, r.attempts) for r in finished]
    resent = service.resent_runs()
    assert resent >= waiting  # the lost ones were sent again (a duplicate more is harmless, see dispatch)
    check_and_report(service, "redis-restart", finished, f"messages lost {waiting}, runs sent again {resent}")


def test_a_postgres_restart_mid_run_loses_and_duplicates_no_point(service: Service) -> None:
    """The database goes away while a run trains; the worker retries its writes and the run carries on."""
    # Longer than the outage plus a heartbeat's spacing, so that the retries, not a requeue, carry the run.
    service.configure(heartbeat_timeout_s=15)
    service.start_workers("faults-pg")
    service.start_reconciler()
    epochs = 8
    [run] = service.submit("faults: postgres restart", arms=["none"], seeds=1, epochs=epochs)
    service.wait_epochs(run.id, 2)
    worker = service.workers["faults-pg"]
    started = time.monotonic()
    service.postgres.stop()  # fast shutdown: every connection is cut, then the server is gone
    # Down until the worker has met the outage (a heartbeat or a write failed), and a second more of retries.
    wait_for("the worker to meet the outage", lambda: "failed (attempt 1 of" in worker.text(), timeout_s=30)
    time.sleep(1.0)
    service.postgres.start()
    down_s = time.monotonic() - started
    epochs_before = service.store.get_run(run_id=run.id).epochs_done
    assert epochs_before < epochs, "the run ended before the restart: make it longer"

    [done] = service.wait_finished([run], timeout_s=100)
    assert done.status == RunStatus.SUCCEEDED, (done.status, done.error)
    assert done.attempts == 1, "the retries should have carried the run over the outage, not a requeue"
    retries = worker.text().count("retrying in")
    detail = f"database down {down_s:.1f} s after epoch {epochs_before} of {epochs}, worker retries {retries}"
    check_and_report(service, "postgres-restart", [done], detail)
