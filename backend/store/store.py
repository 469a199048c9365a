"""The store: every read and write of pilots, runs, metric points and workers, as plain entities.

Each public method is keyword-only, runs in its own transaction and returns entities (``entities.py``):
SQLAlchemy rows never leave this module. The same code runs on SQLite and PostgreSQL. Run state changes
are conditional updates, so two workers, or a worker and the reconciler, cannot both win a transition.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from backend.store import schema
from backend.store.accounts import Accounts
from backend.store.annotations import Annotations
from backend.store.db import StoreUnavailable, as_utc, make_engine, transaction, utc_now
from backend.store.decisions import Decisions
from backend.store.entities import (
    ACTIVE_STATUSES,
    Arm,
    ArmInput,
    Conflict,
    MetricPoint,
    MetricSeries,
    MetricSeriesJson,
    NotFound,
    Pilot,
    PilotSummary,
    Run,
    RunInput,
    RunStatus,
    Superseded,
    ThroughputPoint,
    Worker,
)
from backend.store.extension import Extensions
from backend.store.installation import Installation
from backend.store.lease import Leases
from backend.store.models import SqlArm, SqlMetricPoint, SqlMetricSeries, SqlPilot, SqlRun, SqlWorker
from backend.store.pilot_query import pilot_ids
from backend.store.usage import Usage
from backend.store.versions import Versions, bump_pilot, bump_runs

_SPECIAL = {1: math.nan, 2: math.inf, 3: -math.inf}
# Append JSON items to the stored arrays, "[1,2]" -> "[1,2" || ",3" || "]": the same SQL on SQLite and PostgreSQL.
_APPEND_SERIES = text(
    "UPDATE metric_series SET "
    "epochs = substr(epochs, 1, length(epochs) - 1) || :e || ']', "
    '"values" = substr("values", 1, length("values") - 1) || :v || \']\', '
    "specials = substr(specials, 1, length(specials) - 1) || :s || ']', "
    "last_epoch = :last "
    "WHERE run_id = :run_id AND key = :key"
)


_now, _aware = utc_now, as_utc


def _encode(value: float) -> tuple[float | None, int]:
    if math.isnan(value):
        return None, 1
    if math.isinf(value):
        return None, 2 if value > 0 else 3
    return float(value), 0


def _arm(row: SqlArm) -> Arm:
    return Arm(id=row.id, pilot_id=row.pilot_id, name=row.name, regularizer=row.regularizer, params=dict(row.params))


def _pilot(row: SqlPilot) -> Pilot:
    return Pilot(
        id=row.id,
        name=row.name,
        description=row.description,
        dataset=row.dataset,
        dataset_params=dict(row.dataset_params),
        model=row.model,
        width=row.width,
        training=dict(row.training),
        seeds=list(row.seeds),
        baseline_arm=row.baseline_arm,
        roi=dict(row.roi),
        budget_cap=row.budget_cap,
        queue=row.queue,
        created_by=row.created_by,
        created_at=_aware(row.created_at) or _now(),
        updated_at=_aware(row.updated_at) or _now(),
        arms=[_arm(a) for a in row.arms],
        sequential=dict(row.sequential) if row.sequential else None,
    )


def _run(row: SqlRun, arm_name: str) -> Run:
    return Run(
        id=row.id,
        pilot_id=row.pilot_id,
        arm_id=row.arm_id,
        arm=arm_name,
        seed=row.seed,
        status=RunStatus(row.status),
        attempts=row.attempts,
        queue=row.queue,
        config=dict(row.config),
        epochs_total=row.epochs_total,
        epochs_done=row.epochs_done,
        queued_at=_aware(row.queued_at),
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
        heartbeat_at=_aware(row.heartbeat_at),
        worker_host=row.worker_host,
        device=row.device,
        cancel_requested=row.cancel_requested,
        error=row.error,
        cost=row.cost,
        final_metrics=row.final_metrics,
        predictions=row.predictions,
        test_labels=row.test_labels,
    )


def pilot_status(counts: dict[str, int]) -> str:
    """One word for a pilot from its runs' statuses.

    ``running`` while any run is running or cancelling (or some finished and some still queued), ``queued``
    when nothing started, else the common final status, or ``partial`` when runs ended differently.
    """
    active = counts.get("running", 0) + counts.get("cancelling", 0)
    queued = counts.get("queued", 0)
    finished = {s: n for s, n in counts.items() if s in ("succeeded", "failed", "cancelled") and n}
    if active or (queued and finished):
        return "running"
    if queued:
        return "queued"
    if len(finished) == 1:
        return next(iter(finished))
    return "partial" if finished else "queued"


class Store:
    """The data-access layer (see ``backend/store/README.md`` for the whole interface)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._dialect = self.engine.dialect.name
        self.accounts = Accounts(self._sessions)
        self.decisions = Decisions(self._sessions)
        self.annotations = Annotations(self._sessions)
        self.installation = Installation(self._sessions)
        self.extensions = Extensions(self._sessions, pilot=_pilot, runs=self._runs)
        self.usage = Usage(self._sessions)
        self.versions = Versions(self.engine)
        self.leases = Leases(self._sessions)
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        upsert = insert(SqlMetricPoint)
        self._upsert_point = upsert.on_conflict_do_update(
            index_elements=["run_id", "key", "epoch"],
            set_={"value": upsert.excluded.value, "special": upsert.excluded.special},
        )
        series = insert(SqlMetricSeries)
        self._upsert_series = series.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "epochs": series.excluded.epochs,
                "values": series.excluded["values"],
                "specials": series.excluded.specials,
                "last_epoch": series.excluded.last_epoch,
            },
        )

    # -- lifecycle -------------------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision."""
        try:
            schema.upgrade(self.engine)
        except OperationalError as error:
            raise StoreUnavailable(self._unreachable(error)) from None

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except OperationalError as error:
            raise StoreUnavailable(self._unreachable(error)) from None

    def _unreachable(self, error: OperationalError) -> str:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"cannot reach the database at {self.engine.url.render_as_string(hide_password=True)}: {reason}"

    def dispose(self) -> None:
        self.engine.dispose()

    # -- pilots ------------------------------------------------------------------------------------------

    def create_pilot(
        self,
        *,
        name: str,
        description: str,
        dataset: str,
        dataset_params: dict[str, Any],
        model: str,
        width: int | None,
        training: dict[str, Any],
        seeds: list[int],
        baseline_arm: str,
        roi: dict[str, Any],
        budget_cap: float | None,
        queue: str,
        created_by: str | None,
        arms: Sequence[ArmInput],
        runs: Sequence[RunInput],
        run_queue: str | None = None,
        sequential: dict[str, Any] | None = None,
    ) -> Pilot:
        """Create a pilot with its arms and queued runs in one transaction."""
        now = _now()
        with transaction(self._sessions) as session:
            pilot = SqlPilot(
                name=name,
                description=description,
                dataset=dataset,
                dataset_params=dataset_params,
                model=model,
                width=width,
                training=training,
                seeds=seeds,
                baseline_arm=baseline_arm,
                roi=roi,
                budget_cap=budget_cap,
                queue=queue,
                created_by=created_by,
                created_at=now,
                updated_at=now,
                sequential=sequential,
                sequential_open=True if sequential else None,
            )
            by_name = {}
            for arm in arms:
                row = SqlArm(name=arm.name, regularizer=arm.regularizer, params=arm.params)
                pilot.arms.append(row)
                by_name[arm.name] = row
            session.add(pilot)
            session.flush()
            for run in runs:
                if run.arm not in by_name:
                    raise NotFound(f"run refers to arm {run.arm!r}, which the pilot does not have")
                session.add(
                    SqlRun(
                        pilot_id=pilot.id,
                        arm_id=by_name[run.arm].id,
                        seed=run.seed,
                        status=RunStatus.QUEUED.value,
                        attempts=0,
                        queue=run_queue or queue,
                        config=run.config,
                        epochs_total=run.epochs_total,
                        epochs_done=0,
                        queued_at=now,
                        cancel_requested=False,
                    )
                )
            session.flush()
            return _pilot(pilot)

    def _pilot_row(self, session: Session, pilot_id: int) -> SqlPilot:
        row = session.get(SqlPilot, pilot_id, options=[selectinload(SqlPilot.arms)])
        if row is None:
            raise NotFound(f"pilot {pilot_id} does not exist")
        return row

    def get_pilot(self, *, pilot_id: int) -> Pilot:
        with transaction(self._sessions) as session:
            return _pilot(self._pilot_row(session, pilot_id))

    def update_roi(self, *, pilot_id: int, roi: dict[str, Any]) -> Pilot:
        with transaction(self._sessions) as session:
            row = self._pilot_row(session, pilot_id)
            row.roi = roi
            row.updated_at = _now()
            session.flush()
            bump_pilot(session, pilot_id)
            return _pilot(row)

    def delete_pilot(self, *, pilot_id: int) -> None:
        with transaction(self._sessions) as session:
            row = self._pilot_row(session, pilot_id)
            active = session.scalar(
                select(func.count())
                .select_from(SqlRun)
                .where(SqlRun.pilot_id == pilot_id, SqlRun.status.in_([s.value for s in ACTIVE_STATUSES]))
            )
            if active:
                raise Conflict(f"pilot {pilot_id} has {active} active run(s): cancel them first")
            # Points first in bulk: the ORM cascade would load them one by one.
            run_ids = select(SqlRun.id).where(SqlRun.pilot_id == pilot_id)
            session.execute(delete(SqlMetricPoint).where(SqlMetricPoint.run_id.in_(run_ids)))
            session.execute(delete(SqlMetricSeries).where(SqlMetricSeries.run_id.in_(run_ids)))
            session.execute(delete(SqlRun).where(SqlRun.pilot_id == pilot_id))
            session.delete(row)

    def _summaries(self, session: Session, pilot_ids: Iterable[int] | None) -> dict[int, dict[str, Any]]:
        query = select(
            SqlRun.pilot_id,
            SqlRun.status,
            func.count(),
            func.sum(SqlRun.epochs_done),
            func.sum(SqlRun.epochs_total),
            func.sum(SqlRun.device_hours),
            func.min(SqlRun.started_at),
            func.max(SqlRun.finished_at),
            SqlRun.device,
        ).group_by(SqlRun.pilot_id, SqlRun.status, SqlRun.device)
        if pilot_ids is not None:
            query = query.where(SqlRun.pilot_id.in_(list(pilot_ids)))
        out: dict[int, dict[str, Any]] = {}
        for pilot_id, status, count, done, total, hours, started, finished, device in session.execute(query):
            agg = out.setdefault(
                pilot_id,
                {"counts": {}, "done": 0, "total": 0, "hours": 0.0, "by_device": {}, "started": None, "finished": None},
            )
            agg["counts"][status] = agg["counts"].get(status, 0) + count
            if hours:
                agg["by_device"][device or "cpu"] = agg["by_device"].get(device or "cpu", 0.0) + hours
            agg["done"] += done or 0
            agg["total"] += total or 0
            agg["hours"] += hours or 0.0
            started, finished = _aware(started), _aware(finished)
            if started is not None and (agg["started"] is None or started < agg["started"]):
                agg["started"] = started
            if finished is not None and (agg["finished"] is None or finished > agg["finished"]):
                agg["finished"] = finished
        return out

    @staticmethod
    def _summary(pilot: Pilot, agg: dict[str, Any] | None) -> PilotSummary:
        agg = agg or {
            "counts": {},
            "done": 0,
            "total": 0,
            "hours": 0.0,
            "by_device": {},
            "started": None,
            "finished": None,
        }
        status = pilot_status(agg["counts"])
        return PilotSummary(
            pilot=pilot,
            status=status,
            runs_by_status=dict(agg["counts"]),
            epochs_done=int(agg["done"]),
            epochs_total=int(agg["total"]),
            device_hours=float(agg["hours"]),
            device_hours_by_device=dict(agg["by_device"]),
            started_at=agg["started"],
            finished_at=agg["finished"] if status not in ("running", "queued") else None,
        )

    def pilot_summary(self, *, pilot_id: int) -> PilotSummary:
        with transaction(self._sessions) as session:
            pilot = _pilot(self._pilot_row(session, pilot_id))
            return self._summary(pilot, self._summaries(session, [pilot_id]).get(pilot_id))

    def list_pilots(
        self, *, status: str | None = None, offset: int = 0, limit: int = 50, search: str = "", sort: str = "-created"
    ) -> tuple[list[PilotSummary], int]:
        """Newest first unless ``sort`` says otherwise; ``search`` and ``sort`` as in ``pilot_query``;
        ``status`` filters on the word :func:`pilot_status` gives."""
        with transaction(self._sessions) as session:
            aggregates = self._summaries(session, None)
            ids = list(session.scalars(pilot_ids(search=search, sort=sort)))
            if status is not None:
                ids = [i for i in ids if pilot_status(aggregates.get(i, {}).get("counts", {})) == status]
            page = ids[offset : offset + limit]
            rows = session.scalars(
                select(SqlPilot).where(SqlPilot.id.in_(page)).options(selectinload(SqlPilot.arms))
            ).all()
            by_id = {row.id: row for row in rows}
            return [self._summary(_pilot(by_id[i]), aggregates.get(i)) for i in page], len(ids)

    # -- runs --------------------------------------------------------------------------------------------

    def _runs(self, session: Session, *conditions: Any) -> list[Run]:
        query = select(SqlRun, SqlArm.name).join(SqlArm, SqlRun.arm_id == SqlArm.id).where(*conditions)
        return [_run(row, name) for row, name in session.execute(query.order_by(SqlRun.id))]

    def list_runs(self, *, pilot_id: int) -> list[Run]:
        with transaction(self._sessions) as session:
            if session.scalar(select(SqlPilot.id).where(SqlPilot.id == pilot_id)) is None:  # not the whole row
                raise NotFound(f"pilot {pilot_id} does not exist")
            return self._runs(session, SqlRun.pilot_id == pilot_id)

    def get_run(self, *, run_id: int) -> Run:
        with transaction(self._sessions) as session:
            runs = self._runs(session, SqlRun.id == run_id)
            if not runs:
                raise NotFound(f"run {run_id} does not exist")
            return runs[0]

    def claim_run(self, *, run_id: int, worker_host: str, device: str, stale_after_s: float) -> Run | None:
        """Take a queued run, or a running one whose worker went silent; None when it is not claimable."""
        now = _now()
        stale = now - timedelta(seconds=stale_after_s)
        with transaction(self._sessions) as session:
            cancelled = _changed(
                session,
                update(SqlRun)
                .where(SqlRun.id == run_id, SqlRun.status == "queued", SqlRun.cancel_requested.is_(True))
                .values(status="cancelled", finished_at=now),
            )
            claimed = _changed(
                session,
                update(SqlRun)
                .where(
                    SqlRun.id == run_id,
                    (SqlRun.status == "queued")
                    | (SqlRun.status.in_(["running", "cancelling"]) & (SqlRun.heartbeat_at < stale)),
                )
                .values(
                    status="running",
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
            return self._runs(session, SqlRun.id == run_id)[0]

    def heartbeat(self, *, run_id: int, epochs_done: int | None = None, attempt: int | None = None) -> bool:
        """Record that the run's worker is alive (and its progress); return whether cancel was requested.

        With ``attempt`` the write is fenced: it raises :class:`Superseded` unless that attempt still owns
        the run (see :func:`_owned`).
        """
        values: dict[str, Any] = {"heartbeat_at": _now()}
        if epochs_done is not None:
            values["epochs_done"] = epochs_done
        with transaction(self._sessions) as session:
            changed = _changed(session, update(SqlRun).where(*_owned(run_id, attempt)).values(**values))
            flag = session.scalar(select(SqlRun.cancel_requested).where(SqlRun.id == run_id))
            if flag is None:
                raise NotFound(f"run {run_id} does not exist")
            if not changed:
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
        returns it; any other state raises :class:`Superseded`.
        """
        if status not in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
            raise ValueError(f"finish_run needs a final status, got {status}")
        values: dict[str, Any] = {"status": status.value, "finished_at": _now(), "error": error}
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
            changed = _changed(session, update(SqlRun).where(*_owned(run_id, attempt)).values(**values))
            runs = self._runs(session, SqlRun.id == run_id)
            if not runs:
                raise NotFound(f"run {run_id} does not exist")
            if not changed and not (runs[0].status == status and runs[0].attempts == attempt):
                raise Superseded(f"run {run_id}: attempt {attempt} no longer owns it (now {runs[0].status.value})")
            if changed:
                bump_runs(session, [run_id])
            return runs[0]

    def _cancel(self, session: Session, run: Run) -> bool:
        now = _now()
        if run.status == RunStatus.QUEUED:
            changed = _changed(
                session,
                update(SqlRun)
                .where(SqlRun.id == run.id, SqlRun.status == "queued")
                .values(status="cancelled", cancel_requested=True, finished_at=now),
            )
        else:
            changed = _changed(
                session,
                update(SqlRun)
                .where(SqlRun.id == run.id, SqlRun.status == "running")
                .values(status="cancelling", cancel_requested=True),
            )
        return bool(changed)

    def request_cancel(self, *, run_id: int) -> Run:
        with transaction(self._sessions) as session:
            runs = self._runs(session, SqlRun.id == run_id)
            if not runs:
                raise NotFound(f"run {run_id} does not exist")
            run = runs[0]
            if run.status == RunStatus.CANCELLING:
                return run
            if run.status not in ACTIVE_STATUSES or not self._cancel(session, run):
                raise Conflict(f"run {run_id} is {run.status.value}: only queued or running runs can be cancelled")
            bump_runs(session, [run_id])
            return self._runs(session, SqlRun.id == run_id)[0]

    def cancel_pilot(self, *, pilot_id: int) -> list[Run]:
        with transaction(self._sessions) as session:
            self._pilot_row(session, pilot_id)
            runs = self._runs(session, SqlRun.pilot_id == pilot_id, SqlRun.status.in_(["queued", "running"]))
            changed = [run.id for run in runs if self._cancel(session, run)]
            # Once, after every run: the runs' rows are locked before the pilot's, as in every write (no deadlock).
            bump_runs(session, changed)
            return self._runs(session, SqlRun.id.in_(changed)) if changed else []

    def retry_run(self, *, run_id: int) -> Run:
        """Queue a failed or cancelled run again from scratch (its points are deleted)."""
        with transaction(self._sessions) as session:
            changed = _changed(
                session,
                update(SqlRun)
                .where(SqlRun.id == run_id, SqlRun.status.in_(["failed", "cancelled"]))
                .values(
                    status="queued",
                    attempts=0,
                    queued_at=_now(),
                    resent_at=None,
                    started_at=None,
                    finished_at=None,
                    heartbeat_at=None,
                    cancel_requested=False,
                    error=None,
                    epochs_done=0,
                    cost=None,
                    device_hours=None,
                    samples_per_second=None,
                    final_metrics=None,
                    predictions=None,
                    test_labels=None,
                ),
            )
            if not changed:
                run = self._runs(session, SqlRun.id == run_id)
                if not run:
                    raise NotFound(f"run {run_id} does not exist")
                raise Conflict(f"run {run_id} is {run[0].status.value}: only failed or cancelled runs can be retried")
            session.execute(delete(SqlMetricPoint).where(SqlMetricPoint.run_id == run_id))
            session.execute(delete(SqlMetricSeries).where(SqlMetricSeries.run_id == run_id))
            bump_runs(session, [run_id])
            return self._runs(session, SqlRun.id == run_id)[0]

    def requeue_stale(self, *, stale_after_s: float, max_attempts: int) -> tuple[list[Run], list[Run]]:
        """Runs whose worker went silent: requeue them, or fail them after ``max_attempts`` attempts.

        A silent run that was being cancelled is marked cancelled. Returns (requeued, failed).
        """
        now = _now()
        stale = now - timedelta(seconds=stale_after_s)
        with transaction(self._sessions) as session:
            silent = self._runs(session, SqlRun.status.in_(["running", "cancelling"]), SqlRun.heartbeat_at < stale)
            requeued, failed, cancelled = [], [], []
            for run in silent:
                guard = (SqlRun.id == run.id) & (SqlRun.heartbeat_at < stale) & (SqlRun.status == run.status.value)
                if run.status == RunStatus.CANCELLING:
                    if _changed(session, update(SqlRun).where(guard).values(status="cancelled", finished_at=now)):
                        cancelled.append(run.id)
                elif run.attempts >= max_attempts:
                    message = f"the worker was lost {run.attempts} times (no heartbeat for {stale_after_s:.0f} s)"
                    if _changed(
                        session, update(SqlRun).where(guard).values(status="failed", finished_at=now, error=message)
                    ):
                        failed.append(run.id)
                elif _changed(
                    session, update(SqlRun).where(guard).values(status="queued", queued_at=now, resent_at=None)
                ):
                    requeued.append(run.id)
            bump_runs(session, [*requeued, *failed, *cancelled])
            return (
                self._runs(session, SqlRun.id.in_(requeued)) if requeued else [],
                self._runs(session, SqlRun.id.in_(failed)) if failed else [],
            )

    def queued_runs(self, *, older_than_s: float = 0) -> list[Run]:
        cutoff = _now() - timedelta(seconds=older_than_s)
        with transaction(self._sessions) as session:
            return self._runs(session, SqlRun.status == "queued", SqlRun.queued_at <= cutoff)

    def queued_counts(self, *, sent_before_s: float = 0) -> dict[str, int]:
        """Queued runs per queue whose last send to the broker is at least ``sent_before_s`` seconds old.

        The last send is ``resent_at`` when the reconciler sent the run again, else ``queued_at``.
        """
        cutoff = _now() - timedelta(seconds=sent_before_s)
        with transaction(self._sessions) as session:
            rows = session.execute(
                select(SqlRun.queue, func.count())
                .where(SqlRun.status == "queued", _last_sent() <= cutoff)
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
        now = _now()
        cutoff = now - timedelta(seconds=sent_before_s)
        due = (SqlRun.status == "queued") & (_last_sent() <= cutoff)
        with transaction(self._sessions) as session:
            ids = list(
                session.scalars(
                    select(SqlRun.id).where(SqlRun.queue == queue, due).order_by(_last_sent(), SqlRun.id).limit(limit)
                )
            )
            taken = [
                i for i in ids if _changed(session, update(SqlRun).where(SqlRun.id == i, due).values(resent_at=now))
            ]
            return self._runs(session, SqlRun.id.in_(taken)) if taken else []

    def count_runs_by_status(self) -> dict[str, int]:
        """Runs per status over every pilot (statuses with no run are absent); one COUNT ... GROUP BY.

        For the ``/metrics`` gauges, read at every scrape: the status index (``ix_runs_status_heartbeat``)
        keeps it an index scan.
        """
        with transaction(self._sessions) as session:
            rows = session.execute(select(SqlRun.status, func.count()).group_by(SqlRun.status))
            return {str(status): int(count) for status, count in rows}

    # -- metric points -----------------------------------------------------------------------------------

    def write_points(self, *, run_id: int, points: Sequence[tuple[str, int, float]], attempt: int | None = None) -> int:
        """Upsert (key, epoch, value) points of one run: writing a point again keeps one row (the newest value).

        One INSERT ... ON CONFLICT DO UPDATE statement, compiled once and executed for the whole batch on a
        plain connection (no ORM unit of work), and in the same transaction the touched (run, key) rows of
        ``metric_series`` are merged, so the two never disagree.

        With ``attempt`` the write is fenced: the transaction first updates the run's heartbeat on the
        condition that this attempt still owns the run, which locks the run's row until the points commit,
        so a concurrent claim by a newer attempt waits for them or makes them raise :class:`Superseded`.
        """
        rows = []
        for key, epoch, value in points:
            number, special = _encode(float(value))
            rows.append({"run_id": run_id, "key": key, "epoch": int(epoch), "value": number, "special": special})
        if not rows:
            return 0
        with self.engine.begin() as connection:
            if attempt is not None:
                fence = update(SqlRun).where(*_owned(run_id, attempt)).values(heartbeat_at=_now())
                if not cast(CursorResult[Any], connection.execute(fence)).rowcount:
                    raise Superseded(f"run {run_id}: attempt {attempt} no longer owns it (requeued or claimed again)")
            connection.execute(self._upsert_point, rows)
            self._merge_series(connection, run_id, rows)
            bump_runs(connection, [run_id])
        return len(rows)

    def _merge_series(self, connection: Any, run_id: int, rows: list[dict[str, Any]]) -> None:
        by_key: dict[str, dict[int, tuple[float | None, int]]] = {}
        for row in rows:  # within a batch the last write of a point wins, as in the upsert
            by_key.setdefault(row["key"], {})[row["epoch"]] = (row["value"], row["special"])
        last_rows = connection.execute(
            select(SqlMetricSeries.key, SqlMetricSeries.last_epoch).where(
                SqlMetricSeries.run_id == run_id, SqlMetricSeries.key.in_(list(by_key))
            )
        )
        last = dict(last_rows.all())
        appends, rewrites = [], []
        for key, points in by_key.items():
            epochs = sorted(points)
            if key in last and epochs[0] > last[key]:
                # The usual case, the next epoch(s): append the JSON items in SQL, without reading the arrays.
                appends.append(
                    {
                        "run_id": run_id,
                        "key": key,
                        "e": "," + json.dumps(epochs)[1:-1],
                        "v": "," + json.dumps([points[e][0] for e in epochs])[1:-1],
                        "s": "," + json.dumps([points[e][1] for e in epochs])[1:-1],
                        "last": epochs[-1],
                    }
                )
            else:
                rewrites.append(key)
        if appends:
            connection.execute(_APPEND_SERIES, appends)
        if rewrites:
            self._rewrite_series(connection, run_id, {key: by_key[key] for key in rewrites})

    def _rewrite_series(
        self, connection: Any, run_id: int, by_key: dict[str, dict[int, tuple[float | None, int]]]
    ) -> None:
        """New series, or points out of epoch order: merge with what is stored and write whole arrays."""
        existing = connection.execute(
            select(SqlMetricSeries.key, SqlMetricSeries.epochs, SqlMetricSeries.values, SqlMetricSeries.specials).where(
                SqlMetricSeries.run_id == run_id, SqlMetricSeries.key.in_(list(by_key))
            )
        )
        merged: dict[str, dict[int, tuple[float | None, int]]] = {key: {} for key in by_key}
        for key, epochs, values, specials in existing:
            stored = zip(json.loads(values), json.loads(specials), strict=True)
            merged[key].update(zip(json.loads(epochs), stored, strict=True))
        out = []
        for key, points in by_key.items():
            merged[key].update(points)
            epochs = sorted(merged[key])
            out.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "epochs": json.dumps(epochs),
                    "values": json.dumps([merged[key][e][0] for e in epochs]),
                    "specials": json.dumps([merged[key][e][1] for e in epochs]),
                    "last_epoch": epochs[-1],
                }
            )
        connection.execute(self._upsert_series, out)

    def get_series_json(self, *, run_ids: Sequence[int], keys: Sequence[str] | None = None) -> list[MetricSeriesJson]:
        """Each (run, key) history as its stored JSON arrays, ordered by run and key (a row per series)."""
        query = select(
            SqlMetricSeries.run_id, SqlMetricSeries.key, SqlMetricSeries.epochs, SqlMetricSeries.values,
            SqlMetricSeries.specials,
        ).where(SqlMetricSeries.run_id.in_(list(run_ids)))  # fmt: skip
        if keys:
            query = query.where(SqlMetricSeries.key.in_(list(keys)))
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(SqlMetricSeries.run_id, SqlMetricSeries.key)).all()
        return [MetricSeriesJson(*row) for row in rows]

    def get_series(self, *, run_ids: Sequence[int], keys: Sequence[str] | None = None) -> list[MetricSeries]:
        """Each (run, key) history, parsed: the fast read of whole pilots (a row per series)."""
        return [
            MetricSeries(s.run_id, s.key, json.loads(s.epochs), json.loads(s.values), json.loads(s.flags))
            for s in self.get_series_json(run_ids=run_ids, keys=keys)
        ]

    def get_points(self, *, run_ids: Sequence[int], keys: Sequence[str] | None = None) -> list[MetricPoint]:
        query = select(
            SqlMetricPoint.run_id,
            SqlMetricPoint.key,
            SqlMetricPoint.epoch,
            SqlMetricPoint.value,
            SqlMetricPoint.special,
        ).where(SqlMetricPoint.run_id.in_(list(run_ids)))
        if keys:
            query = query.where(SqlMetricPoint.key.in_(list(keys)))
        query = query.order_by(SqlMetricPoint.run_id, SqlMetricPoint.key, SqlMetricPoint.epoch)
        with self.engine.connect() as connection:
            return [
                MetricPoint(run_id, key, epoch, _SPECIAL[special] if special else float(value or 0.0))
                for run_id, key, epoch, value, special in connection.execute(query)
            ]

    # -- workers and history -----------------------------------------------------------------------------

    def worker_seen(self, *, name: str, host: str, device: str, queues: list[str], current_run_id: int | None) -> None:
        with transaction(self._sessions) as session:
            row = session.get(SqlWorker, name)
            if row is None:
                session.add(
                    SqlWorker(
                        name=name,
                        host=host,
                        device=device,
                        queues=queues,
                        current_run_id=current_run_id,
                        last_seen=_now(),
                    )
                )
            else:
                row.host, row.device, row.queues = host, device, queues
                row.current_run_id, row.last_seen = current_run_id, _now()

    def list_workers(self, *, seen_within_s: float) -> list[Worker]:
        cutoff = _now() - timedelta(seconds=seen_within_s)
        with transaction(self._sessions) as session:
            rows = session.scalars(select(SqlWorker).where(SqlWorker.last_seen >= cutoff).order_by(SqlWorker.name))
            return [
                Worker(
                    name=r.name,
                    host=r.host,
                    device=r.device,
                    queues=list(r.queues),
                    current_run_id=r.current_run_id,
                    last_seen=_aware(r.last_seen) or _now(),
                )
                for r in rows
            ]

    def throughput_history(self, *, model: str, dataset: str, device_kind: str) -> list[ThroughputPoint]:
        """Samples per second of succeeded runs of this model and dataset on this kind of device, per regularizer."""
        with transaction(self._sessions) as session:
            pilots = select(SqlPilot.id).where(SqlPilot.model == model, SqlPilot.dataset == dataset)
            rows = session.execute(
                select(SqlRun.samples_per_second, SqlRun.device, SqlArm.regularizer)
                .join(SqlArm, SqlRun.arm_id == SqlArm.id)
                .where(
                    SqlRun.pilot_id.in_(pilots), SqlRun.status == "succeeded", SqlRun.samples_per_second.is_not(None)
                )
            )
            return [
                ThroughputPoint(float(sps), regularizer)
                for sps, device, regularizer in rows
                if sps is not None and (device or "").split(":")[0] == device_kind
            ]


def _owned(run_id: int, attempt: int | None) -> list[Any]:
    """The WHERE clause of a worker's write: the run, and with ``attempt`` only while that attempt owns it.

    An attempt owns its run while the run is running (or cancelling) and no later claim has raised
    ``attempts``: once the reconciler requeues the run, or another worker takes it over, the old attempt's
    heartbeats, points and final status are refused (a fencing token, in the usual words).
    """
    if attempt is None:
        return [SqlRun.id == run_id]
    return [SqlRun.id == run_id, SqlRun.attempts == attempt, SqlRun.status.in_(["running", "cancelling"])]


def _last_sent() -> Any:
    """When a queued run was last sent to the broker: its resend by the reconciler, else its queueing."""
    return func.coalesce(SqlRun.resent_at, SqlRun.queued_at)


def _changed(session: Session, statement: Any) -> int:
    """Execute an UPDATE/DELETE and return how many rows it changed."""
    result = session.execute(statement)
    return int(cast(CursorResult[Any], result).rowcount)


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
