"""The service of a fault test: workers, the reconciler and the store, on the private servers.

The service is what production runs, minus the HTTP layer: Celery worker processes started as the e2e
tests start them (``tests.support.processes``), pilots submitted by the backend's own submission functions
(``plan_pilot`` and ``submit_pilot``, what ``POST /api/v1/pilots`` calls), and the reconciler the API
process runs (``backend.dispatch.reconcile_forever``, started by ``backend.app``'s lifespan) on a thread
of the test process, with its own store and queue client, as the API holds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import threading
from dataclasses import dataclass, field

from backend.catalog import get_catalog
from backend.dispatch import reconcile_forever
from backend.queue import QueueClient
from backend.schemas import PilotCreate
from backend.settings import Settings
from backend.store import FINISHED_STATUSES, Run, RunStatus, Store
from backend.submission import plan_pilot, submit_pilot
from tests.support.processes import EPOCH_KEYS, Proc, Processes, pilot_body, wait_for, worker_command
from tests.support.servers import PostgresServer, RedisServer

# Small on purpose: a lost worker is noticed within seconds (production: a minute). Not smaller: a run
# heart-beats between batches only, and on a loaded machine an epoch's evaluation alone can take seconds.
HEARTBEAT_TIMEOUT_S = 6.0
RECONCILE_EVERY_S = 0.5
TWO_PASS_ARMS = frozenset({"rdrop", "rblock_b", "rblock_s"})


class Reconciler:
    """``reconcile_forever`` on a thread with its own event loop, as the API's lifespan runs it."""

    def __init__(self, settings: Settings) -> None:
        self.store = Store(settings.database_url)
        self.queue = QueueClient(settings)
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="reconciler", daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(reconcile_forever(store=self.store, queue=self.queue, settings=self.settings))
        self._started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=10)

    def stop(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=15)
        self.queue.close()
        self.store.dispose()


@dataclass
class Audit:
    """What a finished pilot stored against what it should have: one point per (run, key, epoch)."""

    expected: int
    stored: int
    problems: list[str] = field(default_factory=list)


@dataclass
class Service:
    """Workers, a reconciler and the store of one fault test, on the private servers."""

    settings: Settings
    env: dict[str, str]
    store: Store
    queue: QueueClient
    processes: Processes
    redis: RedisServer
    postgres: PostgresServer
    reconciler: Reconciler | None = None
    workers: dict[str, Proc] = field(default_factory=dict)

    def configure(self, *, heartbeat_timeout_s: float) -> None:
        """Change the heartbeat timeout of the workers and the reconciler, before they start."""
        assert not self.workers and self.reconciler is None, "configure the service before starting it"
        self.settings = self.settings.model_copy(update={"heartbeat_timeout_s": heartbeat_timeout_s})
        self.env["HEARTBEAT_TIMEOUT_S"] = str(heartbeat_timeout_s)

    def start_reconciler(self) -> None:
        self.reconciler = Reconciler(self.settings)
        self.reconciler.start()

    def start_workers(self, *names: str, queues: str = "cpu") -> None:
        """Start Celery worker subprocesses (at once) and return once each has reported itself."""
        for name in names:
            self.workers[name] = self.processes.start(name, worker_command(name, queues), self.env)
        for name in names:
            wait_for(f"worker {name} to report itself", functools.partial(self._seen, name), timeout_s=120)

    def _seen(self, name: str) -> bool:
        proc = self.workers[name]
        if not proc.alive():
            raise AssertionError(f"worker {name} exited:\n{proc.text()[-3000:]}")
        return any(w.name.startswith(f"{name}@") for w in self.store.list_workers(seen_within_s=60))

    def submit(self, name: str, *, arms: list[str], seeds: int, epochs: int, batch_size: int = 128) -> list[Run]:
        """Submit a digits pilot as the API does (validate, commit, then enqueue); returns its runs."""
        body = pilot_body(name, arms=arms, seeds=seeds, epochs=epochs, width=8, queue="cpu")
        body["training"]["batch_size"] = batch_size
        plan = plan_pilot(PilotCreate(**body), catalog=get_catalog(), store=self.store, settings=self.settings)
        _, runs = submit_pilot(plan, store=self.store, queue=self.queue, created_by="fault-tests")
        return runs

    def wait_finished(self, runs: list[Run], timeout_s: float) -> list[Run]:
        def finished() -> list[Run] | None:
            now = [self.store.get_run(run_id=run.id) for run in runs]
            return now if all(run.status in FINISHED_STATUSES for run in now) else None

        return wait_for(f"runs {[run.id for run in runs]} to finish", finished, timeout_s, every_s=0.2)

    def owner_of(self, run_id: int) -> str:
        """The name of the worker (as started here) that reports ``run_id`` as its current run."""

        def owner() -> str | None:
            for worker in self.store.list_workers(seen_within_s=60):
                if worker.current_run_id == run_id:
                    return worker.name.partition("@")[0]
            return None

        return wait_for(f"the worker of run {run_id}", owner, timeout_s=30, every_s=0.05)

    def wait_epochs(self, run_id: int, epochs: int, timeout_s: float = 90) -> None:
        """Wait until the points of ``epochs`` epochs of the run are stored."""

        def stored() -> bool:
            return len(self.store.get_points(run_ids=[run_id], keys=["epoch_seconds"])) >= epochs

        wait_for(f"{epochs} epochs of run {run_id}", stored, timeout_s, every_s=0.02)

    def audit(self, runs: list[Run]) -> Audit:
        """Compare every run's stored points and series with the points its arm and epochs must produce."""
        audit = Audit(expected=0, stored=0)
        for run in runs:
            expected = expected_points(run.config["arm"], run.epochs_total)
            points = self.store.get_points(run_ids=[run.id])
            pairs = [(p.key, p.epoch) for p in points]
            audit.expected += len(expected)
            audit.stored += len(pairs)
            if len(pairs) != len(set(pairs)):
                audit.problems.append(f"run {run.id}: duplicated points")
            if set(pairs) != expected:
                lost, extra = sorted(expected - set(pairs)), sorted(set(pairs) - expected)
                audit.problems.append(f"run {run.id}: lost {lost[:6]}, unexpected {extra[:6]}")
            # The series table (what the dashboard reads) must say exactly what the points say.
            by_key: dict[str, list[tuple[int, float]]] = {}
            for point in points:
                by_key.setdefault(point.key, []).append((point.epoch, point.value))
            for series in self.store.get_series(run_ids=[run.id]):
                if len(series.epochs) != len(set(series.epochs)):
                    audit.problems.append(f"run {run.id}: series {series.key} repeats an epoch")
                if series.epochs != [epoch for epoch, _ in by_key.pop(series.key, [])]:
                    audit.problems.append(f"run {run.id}: series {series.key} disagrees with its points")
            if by_key:
                audit.problems.append(f"run {run.id}: points without a series: {sorted(by_key)}")
        return audit

    def resent_runs(self) -> int:
        """How many runs the reconciler sent again because the broker had lost their messages."""
        with self.store.engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT count(*) FROM runs WHERE resent_at IS NOT NULL").scalar_one())

    def close(self) -> None:
        for proc in self.processes.started:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    proc.process.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        self.processes.stop_all()
        if self.reconciler is not None:
            self.reconciler.stop()
        self.queue.close()
        self.store.dispose()


def expected_points(arm: str, epochs: int) -> set[tuple[str, int]]:
    """(key, epoch) of every point a digits run writes (docs/design.md §3): per-epoch metrics, stability at the end."""
    per_epoch = EPOCH_KEYS | ({"consistency_kl"} if arm in TWO_PASS_ARMS else set())
    final = {"ece", "nll"} | ({"inconsistency_kl", "flip_rate"} if arm != "none" else set())
    return {(key, epoch) for epoch in range(1, epochs + 1) for key in per_epoch} | {(key, epochs) for key in final}


def check_and_report(service: Service, label: str, runs: list[Run], detail: str) -> None:
    """Every run's points are exactly those expected; then the FAULT line with the figures and ``detail``."""
    audit = service.audit(runs)
    assert not audit.problems, audit.problems
    assert audit.stored == audit.expected
    completed = sum(run.status == RunStatus.SUCCEEDED for run in runs)
    report_fault(
        f"FAULT {label}: runs submitted {len(runs)}, completed {completed}, points expected {audit.expected}, "
        f"points stored {audit.stored} ({detail})"
    )


def report_fault(line: str) -> None:
    """Print a test's summary line, and append it to the file ``FAULT_REPORT`` names (when set)."""
    print(f"\n{line}", flush=True)
    path = os.environ.get("FAULT_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
