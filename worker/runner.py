"""Executing one run: claim it, train it with rblock, write its metrics and heartbeat, record how it ended.

This is the whole logic of the Celery task (``worker.tasks`` is a thin adapter), written as a plain
function so tests can call it on a real store without a broker.

Decisions (docs/design.md §5):
- The database decides who trains a run: ``claim_run`` moves it to ``running`` (or takes over a run whose
  worker went silent). A duplicate delivery, or a message for a finished run, finds nothing to claim and
  does nothing.
- The first attempt starts clean (a leftover ``ARTIFACT_DIR/<run id>`` is deleted); a later attempt resumes
  from the newest checkpoint an earlier attempt left there, so a lost worker costs at most one epoch.
- Each attempt is fenced. Its heartbeats, points and final status carry its attempt number, and the store
  refuses them (``Superseded``) once the run was requeued or claimed by a later attempt: the worker then
  stops the run and writes nothing more. A hung worker that wakes up after its run moved on (SIGSTOP, a
  frozen VM, a long pause) thus cannot overwrite the live attempt's points or status. Its files cannot
  either: each attempt checkpoints into a directory of its own, ``ARTIFACT_DIR/<run id>/attempt-<n>``,
  which starts as a copy of the newest earlier checkpoint; the earlier attempts' directories are then
  deleted, so a woken worker's next checkpoint fails (harmlessly: it is fenced anyway).
- Heartbeats come from the training loop itself (``on_epoch`` and ``should_stop``), not from a side thread:
  a hung loop stops heart-beating and the reconciler requeues the run. ``should_stop`` reads the cancel
  flag through the heartbeat at most once a second.
- A worker told to shut down (SIGTERM, Ctrl-C) interrupts its run between batches instead of finishing
  it (a run takes hours; ``docker stop`` waits seconds): the run stays ``running`` with its last
  checkpoint, and the reconciler requeues it once its heartbeat is stale.
- A training error (bad configuration, NaN loss, an impossible device) fails the run with its message and
  is not retried. A database that stays unreachable after a few retries is an infrastructure failure: the
  error propagates and the run, still ``running``, goes stale and is requeued.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from backend.catalog import get_catalog
from backend.quotas import check_run
from backend.settings import Settings
from backend.store import Run, RunStatus, Store, Superseded
from pilot_spec.metrics import EPOCH_SECONDS
from rblock.config import ConfigError, TrainConfig
from rblock.train import CHECKPOINT_NAME, RunResult, TrainingError, train_run
from worker.presence import Presence
from worker.retry import TRANSIENT_ERRORS, with_retries

log = logging.getLogger(__name__)

# The cancel flag is read (and the heartbeat written) at most this often from between training batches.
HEARTBEAT_EVERY_S = 1.0
# Tries of a write that must not be lost (an epoch's points, the final status): 0.2 s, 0.4 s, ... then 5 s
# apart, about 16 s in all, which carries a run over a database restart (seconds) and stays well under the
# heartbeat timeout (60 s), after which the run would be requeued and this attempt fenced off anyway.
WRITE_ATTEMPTS = 8
# Errors that end an attempt without failing its run: another attempt owns it, or the infrastructure failed.
PASSED_ON: tuple[type[BaseException], ...] = (Superseded, *TRANSIENT_ERRORS)


class RunnerSettings(Protocol):
    """The settings the runner reads (``backend.settings.Settings`` has them)."""

    @property
    def artifact_dir(self) -> Path: ...

    @property
    def heartbeat_timeout_s(self) -> float: ...

    @property
    def max_attempts(self) -> int: ...


class WorkerInterrupted(Exception):
    """Raised from ``should_stop`` when the worker is shutting down: the run is left to be resumed."""


@dataclass(frozen=True)
class Outcome:
    """What :func:`execute_run` did: ``status`` is None when there was nothing to claim."""

    run_id: int
    status: RunStatus | None
    attempts: int = 0
    resumed_from_epoch: int = 0
    error: str | None = None
    interrupted: bool = False
    superseded: bool = False


class _Heartbeat:
    """The run's heartbeat and cancel flag, written from the training loop and rate-limited."""

    def __init__(
        self,
        store: Store,
        run: Run,
        presence: Presence | None,
        every_s: float,
        interrupted: Callable[[], bool] | None,
    ) -> None:
        self.store, self.run_id, self.attempt = store, run.id, run.attempts
        self.presence, self.every_s = presence, every_s
        self.interrupted = interrupted
        self.cancel_requested = False
        self.epochs_done = 0
        self._last = time.monotonic()

    def beat(self, epochs_done: int | None = None) -> bool:
        """Write the heartbeat (with progress), read the cancel flag; retried on transient errors.

        Raises ``Superseded`` when this attempt no longer owns the run.
        """
        if epochs_done is not None:
            self.epochs_done = epochs_done
        self.cancel_requested = with_retries(
            lambda: self.store.heartbeat(run_id=self.run_id, epochs_done=epochs_done, attempt=self.attempt),
            what=f"heartbeat of run {self.run_id}",
        )
        self._last = time.monotonic()
        if self.presence is not None:
            self.presence.report(self.run_id)
        return self.cancel_requested

    def should_stop(self) -> bool:
        """Called between batches: at most once per ``every_s`` it beats and reads the flag."""
        if self.interrupted is not None and self.interrupted():
            raise WorkerInterrupted
        if self.cancel_requested:
            return True
        if time.monotonic() - self._last < self.every_s:
            return False
        try:
            return self.beat()
        except TRANSIENT_ERRORS:
            # Keep training on the last known flag; the next poll tries again. If the database stays away,
            # the heartbeat goes stale and the run is requeued, which is the right outcome.
            self._last = time.monotonic()
            return self.cancel_requested


def checkpoint_dir(artifact_dir: Path, run_id: int, attempt: int) -> Path:
    """The checkpoint folder of one attempt of a run, prepared for it: ``<artifact_dir>/<run id>/attempt-<n>``.

    The first attempt starts clean (anything left under ``<run id>`` is deleted: a retried run trains from
    scratch). A later attempt gets a copy of the newest checkpoint of an earlier attempt (the highest
    attempt number that has one; ``<run id>/checkpoint.pt`` of older workers counts as the oldest), and the
    earlier attempts' folders are deleted: a hung worker that wakes up later writes into nothing of ours.
    """
    root = artifact_dir / str(run_id)
    own = root / f"attempt-{attempt}"
    if attempt <= 1:
        shutil.rmtree(root, ignore_errors=True)
        own.mkdir(parents=True, exist_ok=True)
        return own
    earlier: list[tuple[int, Path]] = []
    for folder in root.glob("attempt-*"):
        number = folder.name.removeprefix("attempt-")
        if number.isdigit() and int(number) < attempt and (folder / CHECKPOINT_NAME).is_file():
            earlier.append((int(number), folder / CHECKPOINT_NAME))
    if (root / CHECKPOINT_NAME).is_file():
        earlier.append((0, root / CHECKPOINT_NAME))
    own.mkdir(parents=True, exist_ok=True)
    if earlier and not (own / CHECKPOINT_NAME).exists():
        newest = max(earlier)[1]
        partial = own / f"{CHECKPOINT_NAME}.copy"
        shutil.copyfile(newest, partial)
        os.replace(partial, own / CHECKPOINT_NAME)  # atomic: a crash mid-copy leaves no half checkpoint
    for folder in root.glob("attempt-*"):
        if folder != own:
            shutil.rmtree(folder, ignore_errors=True)
    (root / CHECKPOINT_NAME).unlink(missing_ok=True)
    return own


def execute_run(
    store: Store,
    run_id: int,
    *,
    settings: RunnerSettings,
    host: str,
    device_hint: str,
    device_label: str | None = None,
    presence: Presence | None = None,
    heartbeat_every_s: float = HEARTBEAT_EVERY_S,
    interrupted: Callable[[], bool] | None = None,
) -> Outcome:
    """Claim run ``run_id`` and train it to its end on this worker.

    Args:
        store: The store (the database is the source of truth).
        run_id: The run to execute (the only thing the broker carries).
        settings: ``artifact_dir`` (checkpoints in ``<artifact_dir>/<run id>/attempt-<n>``), ``heartbeat_timeout_s``
            (a running run silent for longer may be taken over) and ``max_attempts``.
        host: The worker's host name, recorded with the run.
        device_hint: The worker's bound training device (``cpu`` or ``cuda``); it replaces the run's
            configured device, since the queue already chose the kind of device.
        device_label: The device's human name recorded with the run (default: ``device_hint``).
        presence: This worker's presence, reported with each heartbeat (None in tests).
        heartbeat_every_s: The heartbeat rate limit.
        interrupted: Returns True once the worker is shutting down; the run then stops between batches and is
            left ``running`` for the reconciler to requeue (it resumes from its last checkpoint).

    Returns:
        What happened; the run's row in the store says the same.
    """
    label = device_label or device_hint
    run = with_retries(
        lambda: store.claim_run(
            run_id=run_id, worker_host=host, device=label, stale_after_s=settings.heartbeat_timeout_s
        ),
        what=f"claiming run {run_id}",
    )
    if run is None:
        log.info("run %d: nothing to claim (finished, cancelled or running elsewhere); skipping", run_id)
        return Outcome(run_id=run_id, status=None)
    log.info("run %d: claimed on %s (%s), attempt %d", run_id, host, label, run.attempts)
    try:
        return _execute_claimed(
            store,
            run,
            settings=settings,
            device_hint=device_hint,
            presence=presence,
            heartbeat_every_s=heartbeat_every_s,
            interrupted=interrupted,
        )
    except Superseded:
        log.warning(
            "run %d: attempt %d no longer owns the run (it was requeued or taken over while this worker was "
            "silent): stopped, its late results discarded",
            run.id,
            run.attempts,
        )
        return Outcome(run_id=run.id, status=None, attempts=run.attempts, superseded=True)
    finally:
        if presence is not None:
            presence.report(None)  # idle again, at once (the list of workers shows no stale current run)


def _execute_claimed(
    store: Store,
    run: Run,
    *,
    settings: RunnerSettings,
    device_hint: str,
    presence: Presence | None,
    heartbeat_every_s: float,
    interrupted: Callable[[], bool] | None,
) -> Outcome:
    """Train a run this worker has just claimed; ``Superseded`` escapes once another attempt owns it."""
    run_id = run.id
    if run.attempts > settings.max_attempts:
        message = f"the worker was lost {run.attempts - 1} times; giving up after {settings.max_attempts} attempts"
        return _finish(store, run, RunStatus.FAILED, error=message)

    if run.cancel_requested:  # taken over from a worker that died while the run was being cancelled
        return _finish(store, run, RunStatus.CANCELLED)

    run_dir = checkpoint_dir(Path(settings.artifact_dir), run.id, run.attempts)
    resumed_from = run.epochs_done if (run_dir / CHECKPOINT_NAME).exists() else 0
    if resumed_from:
        log.info("run %d: resuming from the checkpoint in %s (after epoch %d)", run_id, run_dir, resumed_from)

    try:
        config = TrainConfig.from_dict({**run.config, "device": device_hint})
    except (ConfigError, ValueError, TypeError) as error:
        return _finish(store, run, RunStatus.FAILED, error=f"invalid configuration: {error}")
    if isinstance(settings, Settings):  # the spending limits, checked again here (tests may pass less)
        owner = store.get_pilot(pilot_id=run.pilot_id).created_by
        if problem := check_run(get_catalog(), run.config, store=store, settings=settings, owner=owner):
            return _finish(store, run, RunStatus.FAILED, error=problem)

    heartbeat = _Heartbeat(store, run, presence, heartbeat_every_s, interrupted)
    heartbeat.epochs_done = resumed_from
    if presence is not None:
        presence.report(run.id)
    epoch_seconds: list[float] = []  # this attempt's, for the cost of a run that fails part-way

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        epoch_seconds.append(float(metrics.get(EPOCH_SECONDS, 0.0)))
        points = [(key, epoch, float(value)) for key, value in metrics.items()]
        with_retries(
            lambda: store.write_points(run_id=run.id, points=points, attempt=run.attempts),
            what=f"metrics of run {run.id}",
            attempts=WRITE_ATTEMPTS,
        )
        heartbeat.beat(epochs_done=epoch)

    started = time.perf_counter()
    try:
        result = train_run(config, on_epoch=on_epoch, should_stop=heartbeat.should_stop, checkpoint_dir=run_dir)
    except WorkerInterrupted:
        log.warning(
            "run %d: interrupted by the worker's shutdown after epoch %d; it resumes from its checkpoint once "
            "its heartbeat is older than %.0f s",
            run_id,
            heartbeat.epochs_done,
            settings.heartbeat_timeout_s,
        )
        return Outcome(
            run_id=run.id, status=None, attempts=run.attempts, resumed_from_epoch=resumed_from, interrupted=True
        )
    except (TrainingError, ConfigError, ValueError) as error:
        # The training itself failed: retrying would fail the same way.
        cost = cost_until_failure(epoch_seconds, device_hint, time.perf_counter() - started)
        return _finish(store, run, RunStatus.FAILED, error=str(error), cost=cost, resumed_from=resumed_from)
    except PASSED_ON:
        # Superseded: another attempt owns the run (execute_run stops quietly). Infrastructure: leave the run
        # running; its heartbeat goes stale and it is requeued.
        raise
    except Exception as error:
        # An unexpected error (out of memory, a bug) would most likely repeat: fail with a readable text.
        # Finished first: an attempt that no longer owns the run (its checkpoint folder was removed by the
        # next attempt) raises Superseded there, and its error is no news.
        text = f"{type(error).__name__}: {error}"
        cost = cost_until_failure(epoch_seconds, device_hint, time.perf_counter() - started)
        outcome = _finish(store, run, RunStatus.FAILED, error=text, cost=cost, resumed_from=resumed_from)
        log.exception("run %d: training raised", run_id)
        return outcome

    # The checkpoint of an epoch is saved just before its points are written: a worker killed in between
    # resumes after that epoch and would never report it. The result's history holds every epoch (it
    # travels in the checkpoint), so write it all once more; the upsert keeps one row per (key, epoch).
    history = [
        (key, int(entry["epoch"]), float(value))
        for entry in result.history
        for key, value in entry.items()
        if key != "epoch"
    ]
    with_retries(
        lambda: store.write_points(run_id=run.id, points=history, attempt=run.attempts),
        what=f"metrics of run {run.id}",
        attempts=WRITE_ATTEMPTS,
    )
    if result.status == RunStatus.CANCELLED:
        # Its device time was spent: the pilot's cost so far counts it (issue 16); no results are kept.
        return _finish(store, run, RunStatus.CANCELLED, cost=result.cost, resumed_from=resumed_from)
    return _finish(store, run, RunStatus.SUCCEEDED, result=result, resumed_from=resumed_from)


def cost_until_failure(epoch_seconds: list[float], device_kind: str, wall_seconds: float) -> dict[str, Any] | None:
    """The cost of a run whose training raised: the step time of the epochs this attempt finished (the
    failed epoch's partial time is unknown), so that cost so far counts it; None when none finished."""
    if not epoch_seconds:
        return None
    seconds = sum(epoch_seconds)
    return {
        "wall_seconds": wall_seconds,
        "wall_hours": wall_seconds / 3600.0,
        "samples_per_second": None,  # not measured: the training raised before reporting it
        "device_kind": device_kind,
        "device_name": device_kind,
        "cost_basis": "epochs_before_failure",
        "device_seconds": seconds,
        "device_hours": seconds / 3600.0,
        "epochs_timed": len(epoch_seconds),
    }


def _finish(
    store: Store,
    run: Run,
    status: RunStatus,
    *,
    error: str | None = None,
    result: RunResult | None = None,
    cost: dict[str, Any] | None = None,
    resumed_from: int = 0,
) -> Outcome:
    """Record the run's end; ``cost`` (else the result's) is the device time it used, whatever the status."""
    spent = result.cost if result is not None else cost
    with_retries(
        lambda: store.finish_run(
            run_id=run.id,
            status=status,
            error=error,
            cost=spent,
            final_metrics=result.final_metrics if result is not None else None,
            predictions=result.predictions if result is not None else None,
            test_labels=result.labels if result is not None and result.labels else None,
            attempt=run.attempts,
        ),
        what=f"finishing run {run.id}",
        attempts=WRITE_ATTEMPTS,
    )
    if error:
        log.warning("run %d: %s (attempt %d): %s", run.id, status.value, run.attempts, error)
    else:
        log.info("run %d: %s (attempt %d)", run.id, status.value, run.attempts)
    return Outcome(run_id=run.id, status=status, attempts=run.attempts, resumed_from_epoch=resumed_from, error=error)
