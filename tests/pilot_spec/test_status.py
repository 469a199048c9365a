"""The run life cycle table: every move the store makes is in it, and a move not in it is refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from backend.store import ArmInput, Conflict, RunInput, RunStatus, Store
from pilot_spec.status import (
    ACTIVE_STATUSES,
    CANCEL_MOVES,
    FINISHED_STATUSES,
    RETRYABLE_STATUSES,
    RUN_TRANSITIONS,
    PilotStatus,
    can_move,
    check_moves,
    pilot_status,
    sources_of,
)


def _pilot(store: Store, runs: int) -> list[int]:
    pilot = store.create_pilot(
        name="life cycle", description="", dataset="digits", dataset_params={}, model="small_cnn", width=None,
        training={"epochs": 2}, seeds=list(range(runs)), baseline_arm="none", roi={}, budget_cap=None,
        queue="cpu", created_by=None, arms=[ArmInput("none", "none")],
        runs=[RunInput("none", seed, {}, 2) for seed in range(runs)],
    )  # fmt: skip
    return [run.id for run in store.list_runs(pilot_id=pilot.id)]


class _Moves:
    """Records every status change the store makes to a set of runs, operation by operation."""

    def __init__(self, store: Store, run_ids: list[int]) -> None:
        self.store, self.run_ids = store, run_ids
        self.seen: set[tuple[RunStatus, RunStatus]] = set()

    def states(self) -> dict[int, tuple[RunStatus, int]]:
        return {run.id: (run.status, run.attempts) for run in (self.store.get_run(run_id=i) for i in self.run_ids)}

    def __call__(self, operation: Callable[[], Any]) -> None:
        before = self.states()
        operation()
        for run_id, (status, attempts) in self.states().items():
            # A takeover keeps the status (running -> running) but is a new attempt: a move all the same.
            if (status, attempts) != before[run_id]:
                self.seen.add((before[run_id][0], status))


def test_every_move_the_store_makes_is_in_the_table(store: Store) -> None:
    ids = _pilot(store, 10)
    moves = _Moves(store, ids)
    claim = store.claim_run

    def stale_claim(run_id: int) -> None:
        time.sleep(0.01)
        claim(run_id=run_id, worker_host="b", device="cpu", stale_after_s=0)

    for run_id in [*ids[:6], *ids[8:]]:
        moves(partial(claim, run_id=run_id, worker_host="a", device="cpu", stale_after_s=60))
    moves(lambda: store.finish_run(run_id=ids[0], status=RunStatus.SUCCEEDED, attempt=1))
    moves(lambda: store.finish_run(run_id=ids[1], status=RunStatus.FAILED, attempt=1))
    moves(lambda: store.request_cancel(run_id=ids[2]))  # running -> cancelling
    moves(lambda: stale_claim(ids[2]))  # cancelling -> running, a takeover (the cancel flag stays)
    moves(lambda: store.finish_run(run_id=ids[2], status=RunStatus.CANCELLED, attempt=2))
    moves(lambda: stale_claim(ids[3]))  # running -> running, a takeover
    moves(lambda: store.request_cancel(run_id=ids[4]))  # running -> cancelling
    for run_id, end in ((ids[8], RunStatus.SUCCEEDED), (ids[9], RunStatus.FAILED)):  # ended before seeing the cancel
        moves(partial(store.request_cancel, run_id=run_id))
        moves(partial(store.finish_run, run_id=run_id, status=end, attempt=1))
    moves(lambda: store.request_cancel(run_id=ids[6]))  # queued -> cancelled
    moves(lambda: store.finish_run(run_id=ids[7], status=RunStatus.FAILED, error="the broker refused it"))
    time.sleep(0.01)
    moves(lambda: store.requeue_stale(stale_after_s=0, max_attempts=2))  # 3: failed, 4: cancelled, 5: queued
    moves(lambda: store.retry_run(run_id=ids[1]))
    moves(lambda: store.retry_run(run_id=ids[6]))
    moves(lambda: claim(run_id=ids[5], worker_host="a", device="cpu", stale_after_s=60))
    moves(lambda: store.finish_run(run_id=ids[5], status=RunStatus.CANCELLED))  # a worker's cancelled end
    moves(lambda: store.cancel_pilot(pilot_id=store.get_run(run_id=ids[0]).pilot_id))  # the retried, queued ones

    assert all(can_move(source, target) for source, target in moves.seen), moves.seen
    # The test drives every edge of the table, so a table edge nobody uses would show up here.
    edges = {(source, target) for source, targets in RUN_TRANSITIONS.items() for target in targets}
    assert moves.seen == edges, edges - moves.seen


def test_a_move_not_in_the_table_is_refused(store: Store) -> None:
    queued, done, _ = _pilot(store, 3)
    with pytest.raises(Conflict, match="cannot become succeeded"):
        store.finish_run(run_id=queued, status=RunStatus.SUCCEEDED)  # queued -> succeeded: never claimed
    store.claim_run(run_id=done, worker_host="a", device="cpu", stale_after_s=60)
    store.finish_run(run_id=done, status=RunStatus.SUCCEEDED, attempt=1)
    with pytest.raises(Conflict, match="cannot become failed"):
        store.finish_run(run_id=done, status=RunStatus.FAILED)  # a succeeded run stays succeeded
    with pytest.raises(Conflict):
        store.retry_run(run_id=done)
    with pytest.raises(Conflict):
        store.request_cancel(run_id=done)
    assert store.claim_run(run_id=done, worker_host="b", device="cpu", stale_after_s=0) is None
    assert store.get_run(run_id=queued).status == RunStatus.QUEUED
    assert store.get_run(run_id=done).status == RunStatus.SUCCEEDED


def test_the_table_guards_what_the_store_writes() -> None:
    assert check_moves([RunStatus.FAILED, RunStatus.CANCELLED], RunStatus.QUEUED) == {
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    }
    with pytest.raises(ValueError, match="no move succeeded -> queued"):
        check_moves([RunStatus.SUCCEEDED], RunStatus.QUEUED)
    assert sources_of(RunStatus.CANCELLING) == {RunStatus.RUNNING}
    assert sources_of(RunStatus.SUCCEEDED) == {RunStatus.RUNNING, RunStatus.CANCELLING}
    assert not RUN_TRANSITIONS[RunStatus.SUCCEEDED]  # the one end nothing leaves
    assert sources_of(RunStatus.QUEUED) & FINISHED_STATUSES == RETRYABLE_STATUSES
    assert all(can_move(source, target) for source, target in CANCEL_MOVES.items())
    assert set(CANCEL_MOVES) | {RunStatus.CANCELLING} == ACTIVE_STATUSES
    assert set(RUN_TRANSITIONS) == set(RunStatus) == ACTIVE_STATUSES | FINISHED_STATUSES


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, PilotStatus.QUEUED),
        ({"queued": 3}, PilotStatus.QUEUED),
        ({"queued": 2, "succeeded": 1}, PilotStatus.RUNNING),
        ({"cancelling": 1, "failed": 1}, PilotStatus.RUNNING),
        ({"succeeded": 4}, PilotStatus.SUCCEEDED),
        ({"succeeded": 3, "failed": 1}, PilotStatus.PARTIAL),
        ({"cancelled": 2, "succeeded": 0}, PilotStatus.CANCELLED),
    ],
)
def test_a_pilot_status_comes_from_its_runs(counts: dict[str, int], expected: PilotStatus) -> None:
    assert pilot_status(counts) == expected
