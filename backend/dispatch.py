"""Getting runs from the database to the broker: enqueue after commit, and requeue runs of lost workers.

The database is the source of truth (DESIGN §5). A run is committed as ``queued`` before its id is sent;
when the broker refuses the id, the run is marked failed with the reason, so no run sits ``queued`` with
no message that would ever start it, and ``POST /runs/{id}/retry`` sends it again later. Runs whose
worker went silent are found by heartbeat (``Store.requeue_stale``) and sent again here: with late
acknowledgement the broker may redeliver the old message too, which is harmless because a worker's
``claim_run`` takes a run only once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from backend.queue import QueueUnavailable
from backend.settings import Settings
from backend.store import Run, RunStatus, Store, StoreError

log = logging.getLogger(__name__)


class RunQueue(Protocol):
    """What the API needs of a queue: ``backend.queue.QueueClient``, or a recording fake in tests."""

    def enqueue(self, run_id: int, queue: str) -> None: ...

    def depths(self) -> dict[str, int | None]: ...


def enqueue_runs(runs: Sequence[Run], *, store: Store, queue: RunQueue) -> None:
    """Send each run's id to its queue; on a broker failure fail the unsent runs and raise ``QueueUnavailable``."""
    for index, run in enumerate(runs):
        try:
            queue.enqueue(run.id, run.queue)
        except QueueUnavailable as error:
            reason = f"could not be queued: {error}"
            for unsent in runs[index:]:
                try:
                    store.finish_run(run_id=unsent.id, status=RunStatus.FAILED, error=reason)
                except StoreError:
                    log.exception("run %s could not be marked failed after the broker refused it", unsent.id)
            raise


def reconcile_once(*, store: Store, queue: RunQueue, settings: Settings) -> tuple[list[Run], list[Run]]:
    """Requeue the runs whose worker went silent (and send them), fail those out of attempts.

    Returns (requeued, failed) as the store reports them.
    """
    requeued, failed = store.requeue_stale(
        stale_after_s=settings.heartbeat_timeout_s, max_attempts=settings.max_attempts
    )
    for run in requeued:
        log.warning("run %s lost its worker (attempt %s): requeued on %s", run.id, run.attempts, run.queue)
    for run in failed:
        log.warning("run %s failed: %s", run.id, run.error)
    if requeued:
        try:
            enqueue_runs(requeued, store=store, queue=queue)
        except QueueUnavailable as error:
            log.error("requeued runs could not be sent: %s", error)
    return requeued, failed


async def reconcile_forever(*, store: Store, queue: RunQueue, settings: Settings) -> None:
    """Call :func:`reconcile_once` every ``reconcile_every_s`` seconds, in a thread, until cancelled."""
    while True:
        try:
            await asyncio.to_thread(reconcile_once, store=store, queue=queue, settings=settings)
        except Exception:  # a database hiccup must not end the loop: the next round retries
            log.exception("reconciling stale runs failed")
        await asyncio.sleep(settings.reconcile_every_s)
