"""Getting runs from the database to the broker: enqueue after commit, requeue runs of lost workers, and
send again the queued runs whose messages the broker lost.

The database is the source of truth (docs/design.md §5). A run is committed as ``queued`` before its id is sent;
when the broker refuses the id, the run is marked failed with the reason, so no run sits ``queued`` with
no message that would ever start it, and ``POST /runs/{id}/retry`` sends it again later. Runs whose
worker went silent are found by heartbeat (``Store.requeue_stale``) and sent again here: with late
acknowledgement the broker may redeliver the old message too, which is harmless because a worker's
``claim_run`` takes a run only once. (When the broker is down at that moment they stay ``queued``, and the
repair of lost messages below sends them once it is back.)

Lost messages (decision). A broker restarted without persistence (Redis with no append-only file, or one
that lost its last second of writes) forgets the ids it held, and those runs would stay ``queued``
forever. Each reconciliation round therefore compares, per queue, the number of queued runs the database
has (counting only runs last sent at least ``resend_after_s`` ago) with the number of messages waiting in
the broker (``RunQueue.depths()``), and sends again as many runs as are missing, least recently sent
first, stamping each one's ``resent_at``:

- A healthy queue, however long, holds a message for every queued run, so nothing is sent again: no
  flood of duplicates. The counts are compared only once a run's send is ``resend_after_s`` old (three
  rounds, at least 5 s), so a run committed but not yet sent, or just sent, is never taken for lost. A
  message taken by a worker leaves the broker's count a few milliseconds before its run leaves
  ``queued`` (the claim); the database is read again after the broker so that a claim in between lowers
  both counts, and the rare round that still falls into that gap costs one duplicate (harmless, below).
- The broker cannot say which ids it lost, so the runs sent again may be ones whose messages still wait.
  That costs a duplicate message, which is harmless: ``Store.claim_run`` is one conditional UPDATE
  (``status = 'queued'`` or a stale heartbeat), so only one delivery wins and the others find nothing to
  claim. Messages for runs no longer queued (duplicates, cancelled runs) count as waiting, which can only
  delay a resend until they are consumed, never cause one. The runs actually lost are then found in a
  later round (least recently sent first), so every queued run is eventually sent.
- A broker whose depth cannot be read (down, unknown transport) is left alone: sending would fail too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
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


# A queued run is sent again at most this often, and not before its first send is this old: the broker
# shows a message at once, but a worker takes a moment between receiving one and claiming its run.
MIN_RESEND_AFTER_S = 5.0


def resend_after_s(settings: Settings) -> float:
    """How old a queued run's last send must be before a missing message is suspected: three rounds, >= 5 s."""
    return max(MIN_RESEND_AFTER_S, 3 * settings.reconcile_every_s)


def resend_lost(*, store: Store, queue: RunQueue, sent_before_s: float) -> list[Run]:
    """Send again queued runs whose messages the broker lost (see the module's docstring); returns them."""
    if not any(store.queued_counts(sent_before_s=sent_before_s).values()):
        return []  # the usual round: nothing waits, so the broker is not even asked
    depths = queue.depths()
    # Read the database after the broker: a run claimed in between then lowers both counts alike.
    waiting = store.queued_counts(sent_before_s=sent_before_s)
    resent: list[Run] = []
    for name, count in sorted(waiting.items()):
        depth = depths.get(name)
        if depth is None or depth >= count:
            continue
        runs = store.mark_resent(queue=name, limit=count - depth, sent_before_s=sent_before_s)
        log.warning(
            "queue %s holds %d message(s) for %d queued run(s): sending run(s) %s again",
            name, depth, count, ", ".join(str(run.id) for run in runs),
        )  # fmt: skip
        for run in runs:
            try:
                queue.enqueue(run.id, run.queue)
            except QueueUnavailable as error:
                # Unlike a submission, the run stays queued: a later round sends it once the broker is back.
                log.error("run %s could not be sent again: %s", run.id, error)
                return resent
            resent.append(run)
    return resent


def reconcile_once(*, store: Store, queue: RunQueue, settings: Settings) -> tuple[list[Run], list[Run]]:
    """Requeue the runs whose worker went silent (and send them), fail those out of attempts, and send again
    the queued runs whose messages the broker lost (:func:`resend_lost`).

    Returns (requeued, failed) as the store reports them.
    """
    requeued, failed = store.requeue_stale(
        stale_after_s=settings.heartbeat_timeout_s, max_attempts=settings.max_attempts
    )
    for run in requeued:
        log.warning("run %s lost its worker (attempt %s): requeued on %s", run.id, run.attempts, run.queue)
    for run in failed:
        log.warning("run %s failed: %s", run.id, run.error)
    for run in requeued:
        try:
            queue.enqueue(run.id, run.queue)
        except QueueUnavailable as error:
            # They stay queued (not failed, as an unsent submission is): resend_lost sends them once the
            # broker is back, since it then holds fewer messages than there are queued runs.
            log.error("requeued runs could not be sent; they are sent again once the broker is back: %s", error)
            break
    resend_lost(store=store, queue=queue, sent_before_s=resend_after_s(settings))
    return requeued, failed


# The lease that makes one API process, of however many share the database, the reconciler.
RECONCILER_LEASE = "reconciler"


def lease_ttl_s(settings: Settings) -> float:
    """How long a reconciler's lease lasts unrenewed: three rounds, at least 30 s (a slow round must not lose it)."""
    return max(30.0, 3 * settings.reconcile_every_s)


def holds_lease(store: Store, holder: str, settings: Settings) -> bool:
    """Take or renew the reconciler's lease for ``holder``; False (and a log line) when the database fails."""
    try:
        return store.leases.hold(name=RECONCILER_LEASE, holder=holder, ttl_s=lease_ttl_s(settings))
    except Exception:
        log.exception("the reconciler's lease could not be taken or renewed")
        return False


async def reconcile_forever(
    *,
    store: Store,
    queue: RunQueue,
    settings: Settings,
    also: Callable[[], object] | None = None,
    holder: str | None = None,
) -> None:
    """Call :func:`reconcile_once` every ``reconcile_every_s`` seconds, in a thread, until cancelled; then
    ``also`` (the API passes the sequential pilots' rounds, ``backend.rounds``), which fails on its own.

    With ``holder`` (an API process with ``--workers N`` runs N of these loops) a round runs only while
    ``holder`` holds the reconciler's lease (``backend/store/lease.py``), renewed at each round: one process
    reconciles, and another takes over once it releases the lease (``release_lease``) or the lease expires.
    """
    while True:
        leader = holder is None or await asyncio.to_thread(holds_lease, store, holder, settings)
        if leader:
            try:
                await asyncio.to_thread(reconcile_once, store=store, queue=queue, settings=settings)
            except Exception:  # a database hiccup must not end the loop: the next round retries
                log.exception("reconciling stale runs failed")
            if also is not None:
                try:
                    await asyncio.to_thread(also)
                except Exception:
                    log.exception("advancing the sequential pilots failed")
        await asyncio.sleep(settings.reconcile_every_s)


def release_lease(store: Store, holder: str) -> None:
    """Give the reconciler's lease up (a process that stops), so that another takes over at its next round."""
    try:
        store.leases.release(name=RECONCILER_LEASE, holder=holder)
    except Exception:
        log.exception("the reconciler's lease could not be released: another process takes over when it expires")
