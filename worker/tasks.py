"""The one Celery task, ``rblock_pilot.train_run(run_id)``: a thin adapter over :func:`worker.runner.execute_run`.

The backend enqueues it by name (``backend.queue.TASK_NAME``; it never imports this module). The broker
carries only the run id; everything else is read from the database.

``acks_late`` and ``reject_on_worker_lost``: the message is acknowledged only after the run ended, so a
worker that dies mid-run (SIGKILL, a lost machine) leaves it to be redelivered; the claim in the database
makes a second delivery of a finished or live run a no-op. A worker whose attempt was superseded (it hung
and the run moved on) returns normally too: its message is acknowledged, the run goes on elsewhere.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from backend.queue import TASK_NAME
from worker.binding import current_binding
from worker.lifecycle import host_name, presence, shutting_down, worker_settings, worker_store
from worker.runner import execute_run


def train_run(self: Any, run_id: int) -> dict[str, Any]:
    """Execute run ``run_id`` on this worker's device; returns a small summary (for logs and flower)."""
    binding = current_binding()
    outcome = execute_run(
        worker_store(),
        int(run_id),
        settings=worker_settings(),
        host=host_name(),
        device_hint=binding.device,
        device_label=binding.label,
        presence=presence(),
        interrupted=shutting_down,
    )
    return {
        "run_id": outcome.run_id,
        "status": outcome.status.value if outcome.status is not None else None,
        "attempts": outcome.attempts,
        "resumed_from_epoch": outcome.resumed_from_epoch,
        "interrupted": outcome.interrupted,
        "superseded": outcome.superseded,
        "worker": getattr(self.request, "hostname", None),
    }


# shared_task binds the task to every Celery app, so `worker.celery_app` registers it on import.
train_run_task: Any = shared_task(
    name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)(train_run)
