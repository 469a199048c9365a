"""The store on SQLite and PostgreSQL: pilots, run life cycle, idempotent points, NaN/inf, workers."""

from __future__ import annotations

import math
import time

import pytest

from backend.store import Conflict, NotFound, RunStatus, Store, StoreUnavailable
from backend.store.db import make_engine
from backend.store.entities import ThroughputPoint
from tests.support.store import create


def test_upgrade_twice_is_harmless(store: Store) -> None:
    store.upgrade()
    store.ping()


def test_create_and_read_a_pilot(store: Store) -> None:
    pilot = create(store)
    again = store.get_pilot(pilot_id=pilot.id)
    assert again.name == "digits pilot" and again.description == "ünïcode <b>ok</b>"
    assert [a.name for a in again.arms] == ["none", "rblock_s"]
    runs = store.list_runs(pilot_id=pilot.id)
    assert len(runs) == 4 and {r.status for r in runs} == {RunStatus.QUEUED}
    assert runs[0].queued_at is not None and runs[0].queued_at.tzinfo is not None
    summary = store.pilot_progress(pilot_id=pilot.id)
    assert summary.status == "queued" and summary.epochs_total == 12 and summary.runs_by_status == {"queued": 4}


def test_missing_things_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_pilot(pilot_id=999)
    with pytest.raises(NotFound):
        store.get_run(run_id=999)
    with pytest.raises(NotFound):
        store.list_runs(pilot_id=999)


def test_run_life_cycle_and_progress(store: Store) -> None:
    pilot = create(store)
    run = store.list_runs(pilot_id=pilot.id)[0]
    claimed = store.claim_run(run_id=run.id, worker_host="gpu-1", device="cpu", stale_after_s=60)
    assert claimed is not None and claimed.status == RunStatus.RUNNING and claimed.attempts == 1
    assert store.claim_run(run_id=run.id, worker_host="gpu-2", device="cpu", stale_after_s=60) is None
    assert store.heartbeat(run_id=run.id, epochs_done=2) is False
    assert store.pilot_progress(pilot_id=pilot.id).status == "running"
    done = store.finish_run(
        run_id=run.id,
        status=RunStatus.SUCCEEDED,
        cost={"device_hours": 0.01, "samples_per_second": 500.0, "device_kind": "cpu"},
        final_metrics={"test_acc": 0.98, "ece": math.nan},
        predictions=[1, 2, 3],
        test_labels=[1, 0, 3],
    )
    assert done.status == RunStatus.SUCCEEDED and done.predictions == [1, 2, 3] and done.test_labels == [1, 0, 3]
    assert done.final_metrics == {"test_acc": 0.98, "ece": None}
    assert store.pilot_progress(pilot_id=pilot.id).device_hours == pytest.approx(0.01)
    history = store.throughput_history(model="small_cnn", dataset="digits", device_kind="cpu")
    assert history == [ThroughputPoint(samples_per_second=500.0, regularizer=run.arm)]  # arm name = regularizer


def test_cancel_queued_running_and_finished(store: Store) -> None:
    pilot = create(store)
    queued, running, *_ = store.list_runs(pilot_id=pilot.id)
    assert store.request_cancel(run_id=queued.id).status == RunStatus.CANCELLED
    store.claim_run(run_id=running.id, worker_host="h", device="cpu", stale_after_s=60)
    assert store.request_cancel(run_id=running.id).status == RunStatus.CANCELLING
    assert store.heartbeat(run_id=running.id) is True
    store.finish_run(run_id=running.id, status=RunStatus.CANCELLED)
    with pytest.raises(Conflict, match="only queued or running runs can be cancelled"):
        store.request_cancel(run_id=running.id)
    changed = store.cancel_pilot(pilot_id=pilot.id)
    assert {r.status for r in changed} == {RunStatus.CANCELLED} and len(changed) == 2


def test_a_cancelled_queued_run_is_not_claimed(store: Store) -> None:
    pilot = create(store)
    run = store.list_runs(pilot_id=pilot.id)[0]
    store.request_cancel(run_id=run.id)
    assert store.claim_run(run_id=run.id, worker_host="h", device="cpu", stale_after_s=60) is None


def test_retry_starts_over_and_only_from_failed_or_cancelled(store: Store) -> None:
    pilot = create(store)
    run = store.list_runs(pilot_id=pilot.id)[0]
    with pytest.raises(Conflict, match="only failed or cancelled runs can be retried"):
        store.retry_run(run_id=run.id)
    store.claim_run(run_id=run.id, worker_host="h", device="cpu", stale_after_s=60)
    store.write_points(run_id=run.id, points=[("test_acc", 1, 0.5)])
    store.finish_run(run_id=run.id, status=RunStatus.FAILED, error="the training loss became NaN")
    again = store.retry_run(run_id=run.id)
    assert again.status == RunStatus.QUEUED and again.attempts == 0 and again.error is None
    assert store.get_points(run_ids=[run.id]) == []


def test_stale_runs_are_requeued_then_failed_after_max_attempts(store: Store) -> None:
    pilot = create(store, arms=("none",), seeds=1)
    run = store.list_runs(pilot_id=pilot.id)[0]
    store.claim_run(run_id=run.id, worker_host="h", device="cpu", stale_after_s=60)
    time.sleep(0.05)
    requeued, failed = store.requeue_stale(stale_after_s=0.01, max_attempts=2)
    assert [r.id for r in requeued] == [run.id] and failed == []
    # A lost worker's run can be claimed again: attempt 2, which resumes from the checkpoint.
    assert store.claim_run(run_id=run.id, worker_host="h2", device="cpu", stale_after_s=60).attempts == 2  # type: ignore[union-attr]
    time.sleep(0.05)
    requeued, failed = store.requeue_stale(stale_after_s=0.01, max_attempts=2)
    assert requeued == [] and [r.id for r in failed] == [run.id]
    assert "worker was lost 2 times" in (store.get_run(run_id=run.id).error or "")


def test_a_silent_worker_can_be_taken_over_directly(store: Store) -> None:
    pilot = create(store, arms=("none",), seeds=1)
    run = store.list_runs(pilot_id=pilot.id)[0]
    store.claim_run(run_id=run.id, worker_host="h", device="cpu", stale_after_s=60)
    time.sleep(0.05)
    taken = store.claim_run(run_id=run.id, worker_host="h2", device="cpu", stale_after_s=0.01)
    assert taken is not None and taken.worker_host == "h2" and taken.attempts == 2


def test_points_are_idempotent_and_keep_nan_and_infinity(store: Store) -> None:
    pilot = create(store, arms=("none",), seeds=1)
    run = store.list_runs(pilot_id=pilot.id)[0]
    points = [("test_acc", 1, 0.5), ("test_loss", 1, math.nan), ("lr", 1, math.inf), ("x", 1, -math.inf)]
    assert store.write_points(run_id=run.id, points=points) == 4
    store.write_points(run_id=run.id, points=points)  # a retried write
    store.write_points(run_id=run.id, points=[("test_acc", 1, 0.75)])  # a corrected value replaces
    got = {(p.key, p.epoch): p.value for p in store.get_points(run_ids=[run.id])}
    assert len(got) == 4 and got[("test_acc", 1)] == 0.75
    assert math.isnan(got[("test_loss", 1)]) and got[("lr", 1)] == math.inf and got[("x", 1)] == -math.inf
    only = store.get_points(run_ids=[run.id], keys=["lr"])
    assert [p.key for p in only] == ["lr"]


def test_bulk_points_in_one_call(store: Store) -> None:
    pilot = create(store, arms=("none",), seeds=1)
    run = store.list_runs(pilot_id=pilot.id)[0]
    points = [(f"k{k}", e, float(e)) for e in range(200) for k in range(12)]
    assert store.write_points(run_id=run.id, points=points) == 2400
    assert len(store.get_points(run_ids=[run.id])) == 2400


def test_list_pilots_paginates_and_filters(store: Store) -> None:
    ids = [create(store, arms=("none",), seeds=1, name=f"p{i}").id for i in range(5)]
    page, total = store.list_pilots(offset=1, limit=2)
    assert total == 5 and [s.pilot.id for s in page] == [ids[3], ids[2]]
    run = store.list_runs(pilot_id=ids[0])[0]
    store.request_cancel(run_id=run.id)
    cancelled, total = store.list_pilots(status="cancelled")
    assert total == 1 and cancelled[0].pilot.id == ids[0]


def test_delete_refuses_active_pilots(store: Store) -> None:
    pilot = create(store, arms=("none",), seeds=1)
    with pytest.raises(Conflict, match="active run"):
        store.delete_pilot(pilot_id=pilot.id)
    store.cancel_pilot(pilot_id=pilot.id)
    run = store.list_runs(pilot_id=pilot.id)[0]
    store.write_points(run_id=run.id, points=[("a", 1, 1.0)])
    store.delete_pilot(pilot_id=pilot.id)
    with pytest.raises(NotFound):
        store.get_pilot(pilot_id=pilot.id)
    assert store.get_points(run_ids=[run.id]) == []


def test_workers_report_themselves(store: Store) -> None:
    store.worker_seen(name="w1@h", host="h", device="cpu", queues=["cpu"], current_run_id=None)
    store.worker_seen(name="w1@h", host="h", device="cpu", queues=["cpu"], current_run_id=7)
    workers = store.list_workers(seen_within_s=60)
    assert [(w.name, w.current_run_id) for w in workers] == [("w1@h", 7)]


def test_unreachable_database_is_one_clear_line() -> None:
    store = Store("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(StoreUnavailable, match="cannot reach the database at postgresql"):
        store.ping()
    with pytest.raises(StoreUnavailable, match="is not a database URL"):
        Store("not a url")


def test_series_match_the_points_and_follow_rewrites_and_retries(store: Store) -> None:
    pilot = create(store, arms=("none",), seeds=1)
    run = store.list_runs(pilot_id=pilot.id)[0]
    store.write_points(run_id=run.id, points=[("acc", 2, 0.6), ("acc", 1, 0.5), ("loss", 1, math.nan)])
    store.write_points(run_id=run.id, points=[("acc", 2, 0.65), ("acc", 3, math.inf)])
    series = {s.key: (s.epochs, s.floats()) for s in store.get_series(run_ids=[run.id])}
    assert series["acc"][0] == [1, 2, 3] and series["acc"][1][:2] == [0.5, 0.65] and series["acc"][1][2] == math.inf
    assert math.isnan(series["loss"][1][0])
    points = {(p.key, p.epoch): p.value for p in store.get_points(run_ids=[run.id])}
    assert points[("acc", 2)] == 0.65 and len(points) == 4
    assert [s.key for s in store.get_series(run_ids=[run.id], keys=["loss"])] == ["loss"]
    store.claim_run(run_id=run.id, worker_host="h", device="cpu", stale_after_s=60)
    store.finish_run(run_id=run.id, status=RunStatus.FAILED, error="x")
    store.retry_run(run_id=run.id)
    assert store.get_series(run_ids=[run.id]) == []


def test_only_a_server_database_tests_its_pooled_connections(database_url: str) -> None:
    """PostgreSQL may drop an idle connection, so each is tested (a ``SELECT 1``) before use; a SQLite file never
    drops one, and the test would cost every request (a cached summary is one primary-key read) a statement."""
    engine = make_engine(database_url)
    try:
        assert engine.pool._pre_ping is (not database_url.startswith("sqlite"))
    finally:
        engine.dispose()
