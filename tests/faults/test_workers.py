"""Faults of the workers: one killed (SIGKILL) and one hung (SIGSTOP, later SIGCONT) mid-run (issue 7 §3).

Two workers serve the queue; the one that takes the run is hit after two epochs. Its heartbeat stops, the
reconciler requeues the run after the heartbeat timeout (6 s here), and the other worker resumes it from
its checkpoint. The run must end with exactly one point per (key, epoch). The hung worker is then woken:
it must notice that its attempt was superseded and change nothing (the store fences its writes).
"""

from __future__ import annotations

import hashlib
import signal
from typing import Any

import pytest

from backend.store import RunStatus
from tests.support.faults import Service, check_and_report
from tests.support.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(150)]

EPOCHS = 6
WORKERS = ("faults-a", "faults-b")


def _epoch_seconds(service: Service, run_id: int) -> dict[int, float]:
    return {p.epoch: p.value for p in service.store.get_points(run_ids=[run_id], keys=["epoch_seconds"])}


def _state(service: Service, run_id: int) -> dict[str, Any]:
    """Everything the store and the artifact store hold of a run, to compare before and after."""
    files = {
        str(path.relative_to(service.settings.artifact_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((service.settings.artifact_dir / str(run_id)).rglob("*"))
        if path.is_file()
    }
    return {
        "run": service.store.get_run(run_id=run_id),
        "points": service.store.get_points(run_ids=[run_id]),
        "series": service.store.get_series_json(run_ids=[run_id]),
        "files": files,
    }


def _lose_the_worker(service: Service, sig: signal.Signals) -> tuple[int, str, dict[int, float]]:
    """Start both workers, submit one run, hit its worker with ``sig`` after two epochs.

    Returns the run id, the name of the worker hit, and the epoch_seconds stored when it was hit.
    """
    service.start_workers(*WORKERS)
    service.start_reconciler()
    [run] = service.submit(f"faults: worker {sig.name}", arms=["none"], seeds=1, epochs=EPOCHS)
    service.wait_epochs(run.id, 2)
    victim = service.owner_of(run.id)
    service.workers[victim].process.send_signal(sig)
    if sig == signal.SIGKILL:
        service.workers[victim].process.wait(timeout=10)
    before = _epoch_seconds(service, run.id)
    lost = service.store.get_run(run_id=run.id)
    assert lost.status == RunStatus.RUNNING and lost.attempts == 1, lost
    assert 2 <= len(before) < EPOCHS, f"the run was {len(before)} epochs in when hit: make it longer"
    return run.id, victim, before


def _check_resumed(service: Service, run_id: int, victim: str, before: dict[int, float]) -> str:
    """The run succeeded on the other worker, from the checkpoint; returns that worker's name."""
    [done] = service.wait_finished([service.store.get_run(run_id=run_id)], timeout_s=100)
    rescuer = next(name for name in WORKERS if name != victim)
    log = service.workers[rescuer].text()
    assert done.status == RunStatus.SUCCEEDED, (done.status, done.error, log[-3000:])
    assert done.attempts == 2, done
    assert f"run {run_id}: claimed" in log and "attempt 2" in log, log[-3000:]
    assert f"run {run_id}: resuming from the checkpoint" in log, log[-3000:]
    # The epochs stored before the fault were not trained again (their timings would differ).
    after = _epoch_seconds(service, run_id)
    assert {epoch: after[epoch] for epoch in before} == before
    return rescuer


def test_a_killed_worker_s_run_resumes_on_another_worker(service: Service) -> None:
    run_id, victim, before = _lose_the_worker(service, signal.SIGKILL)
    _check_resumed(service, run_id, victim, before)
    run = service.store.get_run(run_id=run_id)
    detail = f"killed after epoch {max(before)} of {EPOCHS}, resumed on attempt {run.attempts}"
    check_and_report(service, "worker-sigkill", [run], detail)


def test_a_hung_worker_s_run_resumes_elsewhere_and_its_late_writes_are_refused(service: Service) -> None:
    run_id, victim, before = _lose_the_worker(service, signal.SIGSTOP)
    _check_resumed(service, run_id, victim, before)
    finished = _state(service, run_id)

    # Wake the hung worker. It carries on where it stopped, mid-epoch of attempt 1, and its next heartbeat
    # or write is refused: it must stop the run and leave everything as attempt 2 left it.
    hung = service.workers[victim]
    hung.process.send_signal(signal.SIGCONT)
    wait_for(
        "the woken worker to give up its superseded attempt",
        lambda: f"run {run_id}: attempt 1 no longer owns the run" in hung.text(),
        timeout_s=60,
        every_s=0.1,
    )
    wait_for(
        "the woken worker to acknowledge its message and report itself idle",
        lambda: "'superseded': True" in hung.text(),
        timeout_s=30,
        every_s=0.1,
    )
    assert hung.alive()
    assert _state(service, run_id) == finished
    detail = (
        f"stopped after epoch {max(before)} of {EPOCHS}, resumed on attempt {finished['run'].attempts}; "
        "woken worker's late writes refused, run and points unchanged"
    )
    check_and_report(service, "worker-hang", [finished["run"]], detail)
