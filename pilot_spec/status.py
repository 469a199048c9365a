"""Run and pilot statuses, and the run life cycle as a transition table (docs/design.md §5).

A run is queued, claimed by a worker (running), and ends succeeded, failed or cancelled; a cancel of a
running run passes through ``cancelling`` until the worker stops. The store moves a run only along
:data:`RUN_TRANSITIONS`; a pilot's status is derived from its runs' statuses, never stored.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class RunStatus(enum.StrEnum):
    """One run's state; the value is what the database, the API and the pages hold."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PilotStatus(enum.StrEnum):
    """One word for a pilot, derived from its runs by :func:`pilot_status`."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIAL = "partial"


ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING})
FINISHED_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})

# Why each edge exists: claim (queued -> running); cancel before a worker took it (queued -> cancelled);
# a run the broker refused to take is failed before any worker saw it (queued -> failed); cancel of a
# running run, which the worker notices at its next check (running -> cancelling -> cancelled); a worker's
# end (running | cancelling -> succeeded | failed | cancelled); a worker that went silent is taken over by
# another claim (running | cancelling -> running: a new attempt, the cancel flag kept), or by the
# reconciler: sent again (running -> queued), failed past its attempts, or, when it was being cancelled,
# cancelled; retry of an ended run that did not succeed starts it from scratch (failed | cancelled -> queued).
RUN_TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED}),
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.RUNNING,
            RunStatus.CANCELLING,
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.CANCELLED,
            RunStatus.QUEUED,
        }
    ),
    RunStatus.CANCELLING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.SUCCEEDED, RunStatus.FAILED}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset({RunStatus.QUEUED}),
    RunStatus.CANCELLED: frozenset({RunStatus.QUEUED}),
}

# The statuses in which a worker's attempt owns its run: its fenced writes are accepted only then.
OWNED_STATUSES = frozenset({RunStatus.RUNNING, RunStatus.CANCELLING})
# What a cancel does to an active run: one not yet claimed ends at once; a running one is flagged, and its
# worker ends it at its next check. A cancelling run is already on its way, so it is not in here.
CANCEL_MOVES: Mapping[RunStatus, RunStatus] = {
    RunStatus.QUEUED: RunStatus.CANCELLED,
    RunStatus.RUNNING: RunStatus.CANCELLING,
}
# The ended runs a retry may queue again (a succeeded run is kept as it is): the table's finished -> queued.
RETRYABLE_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})
# A pilot still in progress: it has no end time yet, and a decision on it is provisional.
PILOT_ACTIVE_STATUSES = frozenset({PilotStatus.QUEUED, PilotStatus.RUNNING})


def can_move(current: RunStatus, target: RunStatus) -> bool:
    """Whether the life cycle allows ``current -> target``."""
    return target in RUN_TRANSITIONS[current]


def sources_of(target: RunStatus) -> frozenset[RunStatus]:
    """The statuses a run may be in to move to ``target`` (the guard of the store's UPDATE ... WHERE)."""
    return frozenset(status for status, targets in RUN_TRANSITIONS.items() if target in targets)


def check_moves(sources: Iterable[RunStatus], target: RunStatus) -> frozenset[RunStatus]:
    """``sources`` when every ``source -> target`` is in :data:`RUN_TRANSITIONS`, else ``ValueError``.

    The store builds each status change's WHERE clause from this, so a move the table does not allow
    cannot be written even by mistake.
    """
    chosen = frozenset(sources)
    refused = sorted(chosen - sources_of(target))
    if refused:
        raise ValueError(f"the run life cycle has no move {', '.join(refused)} -> {target.value}")
    return chosen


def pilot_status(counts: Mapping[str, int]) -> PilotStatus:
    """One word for a pilot from the number of its runs in each status.

    ``running`` while any run is running or cancelling (or some finished and some still queued), ``queued``
    when nothing started, else the common final status, or ``partial`` when runs ended differently.
    """
    active = counts.get(RunStatus.RUNNING, 0) + counts.get(RunStatus.CANCELLING, 0)
    queued = counts.get(RunStatus.QUEUED, 0)
    finished = {status: n for status, n in counts.items() if status in FINISHED_STATUSES and n}
    if active or (queued and finished):
        return PilotStatus.RUNNING
    if queued:
        return PilotStatus.QUEUED
    if len(finished) == 1:
        return PilotStatus(next(iter(finished)))
    return PilotStatus.PARTIAL if finished else PilotStatus.QUEUED
