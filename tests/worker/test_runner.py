"""The runner on a real SQLite store, without Celery: claim, metrics, cancel, failure, interruption and resume."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from backend.store import ArmInput, Run, RunInput, RunStatus, Store, Superseded
from worker.retry import with_retries
from worker.runner import checkpoint_dir, cost_until_failure, execute_run

EPOCH_KEYS = {
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "drop_rate",
    "epoch_seconds",
    "samples_per_second",
}


@dataclass(frozen=True)
class FakeSettings:
    artifact_dir: Path
    heartbeat_timeout_s: float = 60.0
    max_attempts: int = 3


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'pilot.db'}")
    store.upgrade()
    yield store
    store.dispose()


def make_run(store: Store, *, arm: str = "rblock_b", epochs: int = 2, **config: Any) -> int:
    full = {"dataset": "digits", "model": "small_cnn", "width": 8, "arm": arm, "epochs": epochs, "seed": 0, **config}
    pilot = store.create_pilot(
        name="t",
        description="",
        dataset="digits",
        dataset_params={},
        model="small_cnn",
        width=8,
        training={"epochs": epochs},
        seeds=[0],
        baseline_arm=arm,
        roi={},
        budget_cap=None,
        queue="cpu",
        created_by=None,
        arms=[ArmInput(name=arm, regularizer=arm.split("/")[0])],
        runs=[RunInput(arm=arm, seed=0, config=full, epochs_total=epochs)],
    )
    return store.list_runs(pilot_id=pilot.id)[0].id


def run(store: Store, run_id: int, settings: FakeSettings, **kwargs: Any) -> Any:
    return execute_run(store, run_id, settings=settings, host="test-host", device_hint="cpu", **kwargs)


def test_a_run_succeeds_with_every_metric_per_epoch(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, epochs=2)
    outcome = run(store, run_id, FakeSettings(tmp_path / "artifacts"))
    assert outcome.status == RunStatus.SUCCEEDED and outcome.attempts == 1
    stored = store.get_run(run_id=run_id)
    assert stored.status == RunStatus.SUCCEEDED and stored.epochs_done == 2
    assert stored.worker_host == "test-host" and stored.device == "cpu"
    assert stored.predictions and len(stored.predictions) == 360
    assert stored.test_labels and len(stored.test_labels) == 360
    assert stored.cost and stored.cost["device_kind"] == "cpu"
    # The cost is the robust device time of the steps (the heartbeat polls are not in it); wall time beside it.
    assert stored.cost["cost_basis"] == "median_epoch_steps"
    assert 0 < stored.cost["device_seconds"] < stored.cost["wall_seconds"] and stored.cost["cpu_seconds"] > 0
    assert stored.cost["device_hours"] == stored.cost["device_seconds"] / 3600
    assert stored.final_metrics and {"ece", "nll", "flip_rate", "inconsistency_kl"} <= set(stored.final_metrics)
    points = store.get_points(run_ids=[run_id])
    by_epoch: dict[int, set[str]] = {}
    for point in points:
        by_epoch.setdefault(point.epoch, set()).add(point.key)
    assert sorted(by_epoch) == [1, 2]
    for keys in by_epoch.values():
        assert EPOCH_KEYS | {"consistency_kl"} <= keys
    assert (tmp_path / "artifacts" / str(run_id) / "attempt-1" / "checkpoint.pt").exists()


def test_a_second_delivery_of_a_finished_run_does_nothing(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, arm="none", epochs=1)
    settings = FakeSettings(tmp_path / "artifacts")
    assert run(store, run_id, settings).status == RunStatus.SUCCEEDED
    again = run(store, run_id, settings)
    assert again.status is None
    assert store.get_run(run_id=run_id).attempts == 1


def test_a_bad_configuration_fails_the_run_with_its_message(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, arm="none", epochs=1, lr=-1.0)
    outcome = run(store, run_id, FakeSettings(tmp_path / "artifacts"))
    stored = store.get_run(run_id=run_id)
    assert outcome.status == RunStatus.FAILED and stored.status == RunStatus.FAILED
    assert stored.error and "lr" in stored.error


def test_cancel_stops_a_running_run(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, arm="none", epochs=200)

    def cancel_after_first_epoch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.get_run(run_id=run_id).epochs_done < 1:
            time.sleep(0.05)
        store.request_cancel(run_id=run_id)

    thread = threading.Thread(target=cancel_after_first_epoch)
    thread.start()
    outcome = run(store, run_id, FakeSettings(tmp_path / "artifacts"), heartbeat_every_s=0.1)
    thread.join()
    stored = store.get_run(run_id=run_id)
    assert outcome.status == RunStatus.CANCELLED and stored.status == RunStatus.CANCELLED
    assert 1 <= stored.epochs_done < 200
    # The device time it used is kept: the pilot's cost so far counts it (issue 16).
    assert stored.cost and stored.cost["device_seconds"] > 0 and stored.cost["epochs_timed"] >= 1
    assert stored.cost["device_hours"] == stored.cost["device_seconds"] / 3600 and not stored.final_metrics


def test_an_interrupted_run_resumes_from_its_checkpoint(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, arm="none", epochs=4)
    settings = FakeSettings(tmp_path / "artifacts", heartbeat_timeout_s=0.0)  # take over at once
    stop = threading.Event()

    def interrupt_after_two_epochs() -> bool:
        if store.get_run(run_id=run_id).epochs_done >= 2:
            stop.set()
        return stop.is_set()

    first = run(store, run_id, settings, heartbeat_every_s=0.0, interrupted=interrupt_after_two_epochs)
    assert first.interrupted and first.status is None
    assert store.get_run(run_id=run_id).status == RunStatus.RUNNING
    before = {(p.key, p.epoch): p.value for p in store.get_points(run_ids=[run_id], keys=["epoch_seconds"])}
    assert sorted(epoch for _, epoch in before) == [1, 2]

    # As if the worker had died between epoch 2's checkpoint and its points: the resumed run writes them.
    with store.engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM metric_points WHERE run_id = {run_id} AND epoch = 2")
    second = run(store, run_id, settings)
    assert second.status == RunStatus.SUCCEEDED and second.attempts == 2 and second.resumed_from_epoch == 2
    after = {(p.key, p.epoch): p.value for p in store.get_points(run_ids=[run_id], keys=["epoch_seconds"])}
    assert sorted(epoch for _, epoch in after) == [1, 2, 3, 4]
    assert all(after[key] == value for key, value in before.items())  # epochs 1-2 were not trained again
    keys = {(p.key, p.epoch) for p in store.get_points(run_ids=[run_id])}
    assert {epoch for _, epoch in keys} == {1, 2, 3, 4} and ("train_loss", 2) in keys


def test_a_run_lost_too_often_fails(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, arm="none", epochs=1)
    settings = FakeSettings(tmp_path / "artifacts", heartbeat_timeout_s=0.0, max_attempts=1)
    store.claim_run(run_id=run_id, worker_host="lost", device="cpu", stale_after_s=0.0)  # a worker that died
    outcome = run(store, run_id, settings)
    stored = store.get_run(run_id=run_id)
    assert outcome.status == RunStatus.FAILED and stored.attempts == 2
    assert stored.error and "lost" in stored.error


def test_a_superseded_attempt_stops_and_its_late_writes_are_refused(store: Store, tmp_path: Path) -> None:
    run_id = make_run(store, arm="none", epochs=6)
    settings = FakeSettings(tmp_path / "artifacts", heartbeat_timeout_s=0.0)
    taken: list[Run | None] = []

    def taken_over_after_two_epochs() -> bool:
        # Polled between batches of attempt 1: as if it hung here while another worker took the run over.
        if not taken and store.get_run(run_id=run_id).epochs_done >= 2:
            taken.append(store.claim_run(run_id=run_id, worker_host="rescuer", device="cpu", stale_after_s=0.0))
        return False

    first = run(store, run_id, settings, heartbeat_every_s=0.0, interrupted=taken_over_after_two_epochs)
    assert first.superseded and first.status is None and first.attempts == 1
    stored = store.get_run(run_id=run_id)
    assert stored.status == RunStatus.RUNNING and stored.attempts == 2 and stored.worker_host == "rescuer"
    assert stored.epochs_done == 2
    assert {p.epoch for p in store.get_points(run_ids=[run_id])} == {1, 2}

    # Every write of attempt 1 is refused from now on; attempt 2's go through, and a retried finish is a no-op.
    with pytest.raises(Superseded):
        store.write_points(run_id=run_id, points=[("test_acc", 3, 0.1)], attempt=1)
    with pytest.raises(Superseded):
        store.heartbeat(run_id=run_id, epochs_done=5, attempt=1)
    with pytest.raises(Superseded):
        store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, attempt=1)
    assert store.get_run(run_id=run_id).epochs_done == 2
    assert store.heartbeat(run_id=run_id, epochs_done=3, attempt=2) is False
    assert store.write_points(run_id=run_id, points=[("test_acc", 3, 0.9)], attempt=2) == 1
    store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, attempt=2)
    assert store.finish_run(run_id=run_id, status=RunStatus.SUCCEEDED, attempt=2).status == RunStatus.SUCCEEDED
    with pytest.raises(Superseded):
        store.finish_run(run_id=run_id, status=RunStatus.FAILED, attempt=2)
    with pytest.raises(Superseded):
        store.write_points(run_id=run_id, points=[("test_acc", 3, 0.2)], attempt=2)
    assert [p.value for p in store.get_points(run_ids=[run_id], keys=["test_acc"]) if p.epoch == 3] == [0.9]


def test_a_later_attempt_checkpoints_into_a_copy_of_the_newest_earlier_checkpoint(tmp_path: Path) -> None:
    root = tmp_path / "7"
    for attempt, content in ((1, b"one"), (2, b"two")):
        (root / f"attempt-{attempt}").mkdir(parents=True)
        (root / f"attempt-{attempt}" / "checkpoint.pt").write_bytes(content)
    (root / "attempt-3").mkdir()  # attempt 3 died before its first checkpoint
    own = checkpoint_dir(tmp_path, 7, 4)
    assert own == root / "attempt-4" and (own / "checkpoint.pt").read_bytes() == b"two"
    assert sorted(p.name for p in root.iterdir()) == ["attempt-4"]  # a woken earlier attempt writes into nothing
    assert not (checkpoint_dir(tmp_path, 7, 1) / "checkpoint.pt").exists()  # a retried run starts clean


def test_transient_database_errors_are_retried_with_backoff() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE runs", {}, Exception("database is locked"))
        return "ok"

    assert with_retries(flaky, what="test", sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and sleeps == [0.2, 0.4]

    def down() -> str:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    with pytest.raises(OperationalError):
        with_retries(down, what="test", attempts=2, sleep=sleeps.append)


def test_a_run_that_fails_part_way_keeps_the_device_time_of_its_finished_epochs() -> None:
    cost = cost_until_failure([3.0, 4.5], "cpu", 9.0)
    assert cost is not None and cost["device_seconds"] == 7.5 and cost["device_hours"] == 7.5 / 3600
    assert cost["cost_basis"] == "epochs_before_failure" and cost["wall_seconds"] == 9.0
    assert cost_until_failure([], "cpu", 1.0) is None  # failed before its first epoch ended: nothing measured
