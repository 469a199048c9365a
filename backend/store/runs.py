"""The run life cycle: claim, heartbeat, finish, cancel, retry, requeue, and the reconciler's reads.

Every status change is one conditional UPDATE whose WHERE clause names the statuses the run may move
from, built by :func:`_moving` from :data:`pilot_spec.status.RUN_TRANSITIONS`: a move the table lacks
cannot be written, and two workers (or a worker and the reconciler) cannot both win the same move.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from sqlalchemy import Float, case, delete, func, select, type_coerce, update
from sqlalchemy.orm import Session

from backend.store.db import transaction, utc_now
from backend.store.entities import Conflict, NotFound, Run, Superseded
from backend.store.models import SqlMetricPoint, SqlMetricSeries, SqlPilot, SqlRun
from backend.store.rows import StorePart, changed, pilot_row, select_runs
from backend.store.versions import bump_runs
from pilot_spec.status import (
    CANCEL_MOVES,
    FINISHED_STATUSES,
    OWNED_STATUSES,
    RETRYABLE_STATUSES,
    RunStatus,
    check_moves,
    sources_of,
)

for _source, _target in CANCEL_MOVES.items():  # the table allows each, or the import fails
    check_moves([_source], _target)


def _moving(target: RunStatus, *sources: RunStatus) -> Any:
    """The WHERE term of a move to ``target``: the run is in one of ``sources`` (default: every status the
    life cycle allows to move to ``target``); a source the table does not allow raises ``ValueError``."""
    allowed = check_moves(sources, target) if sources else sources_of(target)
    return SqlRun.status.in_(sorted(status.value for status in allowed))


def owned_by(run_id: int, attempt: int | None) -> list[Any]:
    """The WHERE clause of a worker's write: the run, and with ``attempt`` only while that attempt owns it.

    An attempt owns its run while the run is running (or cancelling) and no later claim has raised
    ``attempts``: once the reconciler requeues the run, or another worker takes it over, the old attempt's
    heartbeats, points and final status are refused (a fencing token, in the usual words).
    """
    if attempt is None:
        return [SqlRun.id == run_id]
    owned = [status.value for status in OWNED_STATUSES]
    return [SqlRun.id == run_id, SqlRun.attempts == attempt, SqlRun.status.in_(owned)]


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _last_sent() -> Any:
    """When a queued run was last sent to the broker: its resend by the reconciler, else its queueing."""
    return func.coalesce(SqlRun.resent_at, SqlRun.queued_at)


def _the_run(session: Session, run_id: int) -> Run:
    runs = select_runs(session, SqlRun.id == run_id)
    if not runs:
        raise NotFound(f"run {run_id} does not exist")
    return runs[0]


def _cancel(session: Session, run: Run) -> bool:
    target = CANCEL_MOVES[run.status]
    values: dict[str, Any] = {"status": target.value, "cancel_requested": True}
    if target in FINISHED_STATUSES:
        values["finished_at"] = utc_now()
    return bool(changed(session, update(SqlRun).where(SqlRun.id == run.id, _moving(target, run.status)).values(values)))


def _with_last_attempt(dialect: str) -> Any:
    """``earlier_device_hours`` with the run's recorded ``device_hours`` added under its device, as one SQL
    expression: the retry's UPDATE evaluates it on the row it changes (no read-then-write race)."""
    earlier, hours = SqlRun.earlier_device_hours, SqlRun.device_hours
    device = func.coalesce(SqlRun.device, "cpu")
    added: Any
    if dialect == "postgresql":
        so_far = func.coalesce(earlier.op("->>")(device).cast(Float), 0.0)
        added = earlier.op("||")(func.jsonb_build_object(device, so_far + hours))
    else:  # SQLite: json_each reads the key whatever characters it holds (a JSON path would need quoting)
        entries = func.json_each(earlier).table_valued("key", "value")
        so_far = func.coalesce(select(entries.c.value).where(entries.c.key == device).scalar_subquery(), 0.0)
        added = func.json_patch(earlier, func.json_object(device, so_far + hours))
    return case((hours > 0, type_coerce(added, earlier.type)), else_=earlier)


class Runs(StorePart):
    """The run half of :class:`backend.store.Store`."""

    def list_runs(self, *, pilot_id: int) -> list[Run]:
        with transaction(self._sessions) as session:
            if session.scalar(select(SqlPilot.id).where(SqlPilot.id == pilot_id)) is None:  # not the whole row
                raise NotFound(f"pilot {pilot_id} does not exist")
            return select_runs(session, SqlRun.pilot_id == pilot_id)

    def get_run(self, *, run_id: int) -> Run:
        with transaction(self._sessions) as session:
            return _the_run(session, run_id)

    def claim_run(self, *, run_id: int, worker_host: str, device: str, stale_after_s: float) -> Run | None:
        """Take a queued run, or a running one whose worker went silent; None when it is not claimable."""
        now = utc_now()
        stale = now - timedelta(seconds=stale_after_s)
        with transaction(self._sessions) as session:
            cancelled = changed(
                session,
                update(SqlRun)
                .where(
                    SqlRun.id == run_id,
                    _moving(RunStatus.CANCELLED, RunStatus.QUEUED),
                    SqlRun.cancel_requested.is_(True),
                )
                .values(status=RunStatus.CANCELLED.value, finished_at=now),
            )
            taken_over = _moving(RunStatus.RUNNING, *OWNED_STATUSES) & (SqlRun.heartbeat_at < stale)
            claimed = changed(
                session,
                update(SqlRun)
                .where(SqlRun.id == run_id, _moving(RunStatus.RUNNING, RunStatus.QUEUED) | taken_over)
                .values(
                    status=RunStatus.RUNNING.value,
                    attempts=SqlRun.attempts + 1,
                    started_at=func.coalesce(SqlRun.started_at, now),
                    heartbeat_at=now,
                    worker_host=worker_host,
                    device=device,
                ),
            )
            if cancelled or claimed:
                bump_runs(session, [run_id])
            if not claimed:
                return None
            return _the_run(session, run_id)

    def heartbeat(self, *, run_id: int, epochs_done: int | None = None, attempt: int | None = None) -> bool:
        """Record that the run's worker is alive (and its progress); return whether cancel was requested.

        With ``attempt`` the write is fenced: it raises :class:`Superseded` unless that attempt still owns
        the run (see :func:`owned_by`).
        """
        values: dict[str, Any] = {"heartbeat_at": utc_now()}
        if epochs_done is not None:
            values["epochs_done"] = epochs_done
        with transaction(self._sessions) as session:
            moved = changed(session, update(SqlRun).where(*owned_by(run_id, attempt)).values(**values))
            flag = session.scalar(select(SqlRun.cancel_requested).where(SqlRun.id == run_id))
            if flag is None:
                raise NotFound(f"run {run_id} does not exist")
            if not moved:
                raise Superseded(f"run {run_id}: attempt {attempt} no longer owns it (requeued or claimed again)")
            return bool(flag)

    def finish_run(
        self,
        *,
        run_id: int,
        status: RunStatus,
        error: str | None = None,
        cost: dict[str, Any] | None = None,
        final_metrics: dict[str, Any] | None = None,
        predictions: list[int] | None = None,
        test_labels: list[int] | None = None,
        attempt: int | None = None,
    ) -> Run:
        """Give the run its final status (and results).

        With ``attempt`` the write is fenced: only that attempt, while it owns the run, may finish it. A
        retried call whose first try committed (the reply was lost) finds the run already so finished and
        returns it; any other state raises :class:`Superseded`. Without ``attempt`` (the API failing a run
        the broker refused) the run must be in a status the life cycle lets move to ``status``, else
        :class:`Conflict`.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"finish_run needs a final status, got {status}")
        values: dict[str, Any] = {"status": status.value, "finished_at": utc_now(), "error": error}
        if cost is not None:
            values.update(cost=cost, device_hours=cost.get("device_hours"))
            values["samples_per_second"] = cost.get("samples_per_second")
        if final_metrics is not None:
            values["final_metrics"] = {k: (v if _finite(v) else None) for k, v in final_metrics.items()}
        if predictions is not None:
            values["predictions"] = predictions
        if test_labels is not None:
            values["test_labels"] = test_labels
        with transaction(self._sessions) as session:
            where = [*owned_by(run_id, attempt), _moving(status)]
            moved = changed(session, update(SqlRun).where(*where).values(**values))
            run = _the_run(session, run_id)
            if moved:
                bump_runs(session, [run_id])
            elif attempt is None:
                raise Conflict(f"run {run_id} is {run.status.value}: it cannot become {status.value}")
            elif not (run.status == status and run.attempts == attempt):
                raise Superseded(f"run {run_id}: attempt {attempt} no longer owns it (now {run.status.value})")
            return run

    def request_cancel(self, *, run_id: int) -> Run:
        with transaction(self._sessions) as session:
            run = _the_run(session, run_id)
            if run.status == RunStatus.CANCELLING:
                return run
            if run.status not in CANCEL_MOVES or not _cancel(session, run):
                raise Conflict(f"run {run_id} is {run.status.value}: only queued or running runs can be cancelled")
            bump_runs(session, [run_id])
            return _the_run(session, run_id)

    def cancel_pilot(self, *, pilot_id: int) -> list[Run]:
        with transaction(self._sessions) as session:
            pilot_row(session, pilot_id)
            cancellable = [status.value for status in CANCEL_MOVES]
            runs = select_runs(session, SqlRun.pilot_id == pilot_id, SqlRun.status.in_(cancellable))
            moved = [run.id for run in runs if _cancel(session, run)]
            # Once, after every run: the runs' rows are locked before the pilot's, as in every write (no deadlock).
            bump_runs(session, moved)
            return select_runs(session, SqlRun.id.in_(moved)) if moved else []

    def retry_run(self, *, run_id: int) -> Run:
        """Queue a failed or cancelled run again from scratch (its points are deleted).

        The device-hours its last attempt recorded move to ``earlier_device_hours`` in the same UPDATE that
        clears ``cost``: the money spent so far keeps them (docs/design.md §5).
        """
        earlier = _with_last_attempt(self.engine.dialect.name)
        with transaction(self._sessions) as session:
            moved = changed(
                session,
                update(SqlRun)
                .where(SqlRun.id == run_id, _moving(RunStatus.QUEUED, *RETRYABLE_STATUSES))
                .values(
                    status=RunStatus.QUEUED.value,
                    attempts=0,
                    queued_at=utc_now(),
                    resent_at=None,
                    started_at=None,
                    finished_at=None,
                    heartbeat_at=None,
                    cancel_requested=False,
                    error=None,
                    epochs_done=0,
                    earlier_device_hours=earlier,
                    cost=None,
                    device_hours=None,
                    samples_per_second=None,
                    final_metrics=None,
                    predictions=None,
                    test_labels=None,
                ),
            )
            if not moved:
                status = _the_run(session, run_id).status.value
                raise Conflict(f"run {run_id} is {status}: only failed or cancelled runs can be retried")
            session.execute(delete(SqlMetricPoint).where(SqlMetricPoint.run_id == run_id))
            session.execute(delete(SqlMetricSeries).where(SqlMetricSeries.run_id == run_id))
            bump_runs(session, [run_id])
            return _the_run(session, run_id)

    def requeue_stale(self, *, stale_after_s: float, max_attempts: int) -> tuple[list[Run], list[Run]]:
        """Runs whose worker went silent: requeue them, or fail them after ``max_attempts`` attempts.

        A silent run that was being cancelled is marked cancelled. Returns (requeued, failed).
        """
        now = utc_now()
        stale = now - timedelta(seconds=stale_after_s)
        owned = [status.value for status in OWNED_STATUSES]
        with transaction(self._sessions) as session:
            silent = select_runs(session, SqlRun.status.in_(owned), SqlRun.heartbeat_at < stale)
            moved: dict[RunStatus, list[int]] = {RunStatus.QUEUED: [], RunStatus.FAILED: [], RunStatus.CANCELLED: []}
            for run in silent:
                values: dict[str, Any] = {"finished_at": now}
                if run.status == RunStatus.CANCELLING:
                    target = RunStatus.CANCELLED
                elif run.attempts >= max_attempts:
                    target = RunStatus.FAILED
                    values["error"] = (
                        f"the worker was lost {run.attempts} times (no heartbeat for {stale_after_s:.0f} s)"
                    )
                else:
                    target, values = RunStatus.QUEUED, {"queued_at": now, "resent_at": None}
                guard = (SqlRun.id == run.id, SqlRun.heartbeat_at < stale, _moving(target, run.status))
                if changed(session, update(SqlRun).where(*guard).values(status=target.value, **values)):
                    moved[target].append(run.id)
            bump_runs(session, [run_id for ids in moved.values() for run_id in ids])
            requeued, failed = moved[RunStatus.QUEUED], moved[RunStatus.FAILED]
            return (
                select_runs(session, SqlRun.id.in_(requeued)) if requeued else [],
                select_runs(session, SqlRun.id.in_(failed)) if failed else [],
            )

    def queued_runs(self, *, older_than_s: float = 0) -> list[Run]:
        cutoff = utc_now() - timedelta(seconds=older_than_s)
        with transaction(self._sessions) as session:
            return select_runs(session, SqlRun.status == RunStatus.QUEUED.value, SqlRun.queued_at <= cutoff)

    def queued_counts(self, *, sent_before_s: float = 0) -> dict[str, int]:
        """Queued runs per queue whose last send to the broker is at least ``sent_before_s`` seconds old.

        The last send is ``resent_at`` when the reconciler sent the run again, else ``queued_at``.
        """
        cutoff = utc_now() - timedelta(seconds=sent_before_s)
        with transaction(self._sessions) as session:
            rows = session.execute(
                select(SqlRun.queue, func.count())
                .where(SqlRun.status == RunStatus.QUEUED.value, _last_sent() <= cutoff)
                .group_by(SqlRun.queue)
            )
            return {str(queue): int(count) for queue, count in rows}

    def mark_resent(self, *, queue: str, limit: int, sent_before_s: float) -> list[Run]:
        """Take up to ``limit`` queued runs of ``queue`` last sent at least ``sent_before_s`` ago, for a new send.

        Least recently sent first; each one's ``resent_at`` becomes now, by a conditional update, so two
        reconcilers (two API processes) cannot both take the same run in the same window.
        """
        if limit <= 0:
            return []
        now = utc_now()
        cutoff = now - timedelta(seconds=sent_before_s)
        due = (SqlRun.status == RunStatus.QUEUED.value) & (_last_sent() <= cutoff)
        with transaction(self._sessions) as session:
            ids = list(
                session.scalars(
                    select(SqlRun.id).where(SqlRun.queue == queue, due).order_by(_last_sent(), SqlRun.id).limit(limit)
                )
            )
            taken = [
                i for i in ids if changed(session, update(SqlRun).where(SqlRun.id == i, due).values(resent_at=now))
            ]
            return select_runs(session, SqlRun.id.in_(taken)) if taken else []

    def count_runs_by_status(self) -> dict[str, int]:
        """Runs per status over every pilot (statuses with no run are absent); one COUNT ... GROUP BY.

        For the ``/metrics`` gauges, read at every scrape: the status index (``ix_runs_status_heartbeat``)
        keeps it an index scan.
        """
        with transaction(self._sessions) as session:
            rows = session.execute(select(SqlRun.status, func.count()).group_by(SqlRun.status))
            return {str(status): int(count) for status, count in rows}
