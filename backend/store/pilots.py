"""Pilots: create one with its arms and queued runs, read, edit the ROI inputs, delete, and their progress.

A pilot's status is never stored: :func:`pilot_spec.status.pilot_status` derives it from its runs'
statuses, counted here in one GROUP BY over every pilot asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from backend.store.db import as_utc, transaction, utc_now
from backend.store.entities import ArmInput, Conflict, NotFound, Pilot, PilotProgress, RunInput
from backend.store.models import SqlArm, SqlMetricPoint, SqlMetricSeries, SqlPilot, SqlRun
from backend.store.pilot_query import pilot_ids
from backend.store.rows import StorePart, entity_from, pilot_entity, pilot_row
from backend.store.versions import bump_pilot
from pilot_spec.status import ACTIVE_STATUSES, PILOT_ACTIVE_STATUSES, RunStatus, pilot_status


@dataclass
class _Tally:
    """One pilot's runs added up: counts per status, epochs, device hours and the time span. Its fields are
    named as ``PilotProgress``'s, which is made from it; each tally is new per read, so its dicts go as they are."""

    runs_by_status: dict[str, int] = field(default_factory=dict)
    epochs_done: int = 0
    epochs_total: int = 0
    device_hours: float = 0.0
    device_hours_by_device: dict[str, float] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def add(
        self,
        status: str,
        count: int,
        done: int | None,
        total: int | None,
        hours: float | None,
        started: datetime | None,
        finished: datetime | None,
        device: str | None,
    ) -> None:
        self.runs_by_status[status] = self.runs_by_status.get(status, 0) + count
        by_device = self.device_hours_by_device
        if hours:
            by_device[device or "cpu"] = by_device.get(device or "cpu", 0.0) + float(hours)
        # The sums come back from the database as Decimal or None.
        self.epochs_done += int(done or 0)
        self.epochs_total += int(total or 0)
        self.device_hours += float(hours or 0.0)
        started, finished = as_utc(started), as_utc(finished)
        if started is not None and (self.started_at is None or started < self.started_at):
            self.started_at = started
        if finished is not None and (self.finished_at is None or finished > self.finished_at):
            self.finished_at = finished

    def add_earlier(self, hours_by_device: dict[str, float]) -> None:
        """A retried run's earlier attempts: their device-hours count as spent, on the device they ran on."""
        for device, hours in hours_by_device.items():
            self.device_hours_by_device[device] = self.device_hours_by_device.get(device, 0.0) + float(hours)
            self.device_hours += float(hours)

    def progress(self, pilot: Pilot) -> PilotProgress:
        status = pilot_status(self.runs_by_status)
        finished_at = self.finished_at if status not in PILOT_ACTIVE_STATUSES else None
        return entity_from(PilotProgress, self, pilot=pilot, status=status, finished_at=finished_at)


def _tallies(session: Session, pilot_ids: Iterable[int] | None) -> dict[int, _Tally]:
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
    # Only retried runs have earlier attempts: a few rows, read whole (their JSON is summed here, the same
    # way on SQLite and PostgreSQL).
    earlier = select(SqlRun.pilot_id, SqlRun.earlier_device_hours).where(SqlRun.earlier_device_hours != {})
    if pilot_ids is not None:
        query = query.where(SqlRun.pilot_id.in_(list(pilot_ids)))
        earlier = earlier.where(SqlRun.pilot_id.in_(list(pilot_ids)))
    out: dict[int, _Tally] = {}
    for pilot_id, status, count, done, total, hours, started, finished, device in session.execute(query):
        out.setdefault(pilot_id, _Tally()).add(status, count, done, total, hours, started, finished, device)
    for pilot_id, hours_by_device in session.execute(earlier):
        out.setdefault(pilot_id, _Tally()).add_earlier(hours_by_device or {})
    return out


class Pilots(StorePart):
    """The pilot half of :class:`backend.store.Store`."""

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
        now = utc_now()
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
            return pilot_entity(pilot)

    def get_pilot(self, *, pilot_id: int) -> Pilot:
        with transaction(self._sessions) as session:
            return pilot_entity(pilot_row(session, pilot_id))

    def update_roi(self, *, pilot_id: int, roi: dict[str, Any]) -> Pilot:
        with transaction(self._sessions) as session:
            row = pilot_row(session, pilot_id)
            row.roi = roi
            row.updated_at = utc_now()
            session.flush()
            bump_pilot(session, pilot_id)
            return pilot_entity(row)

    def delete_pilot(self, *, pilot_id: int) -> None:
        with transaction(self._sessions) as session:
            row = pilot_row(session, pilot_id)
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

    def pilot_progress(self, *, pilot_id: int) -> PilotProgress:
        with transaction(self._sessions) as session:
            pilot = pilot_entity(pilot_row(session, pilot_id))
            return _tallies(session, [pilot_id]).get(pilot_id, _Tally()).progress(pilot)

    def list_pilots(
        self, *, status: str | None = None, offset: int = 0, limit: int = 50, search: str = "", sort: str = "-created"
    ) -> tuple[list[PilotProgress], int]:
        """Newest first unless ``sort`` says otherwise; ``search`` and ``sort`` as in ``pilot_query``;
        ``status`` filters on the word :func:`pilot_status` gives."""
        with transaction(self._sessions) as session:
            tallies = _tallies(session, None)
            ids = list(session.scalars(pilot_ids(search=search, sort=sort)))
            if status is not None:
                ids = [i for i in ids if pilot_status(tallies.get(i, _Tally()).runs_by_status) == status]
            page = ids[offset : offset + limit]
            rows = session.scalars(
                select(SqlPilot).where(SqlPilot.id.in_(page)).options(selectinload(SqlPilot.arms))
            ).all()
            by_id = {row.id: row for row in rows}
            return [tallies.get(i, _Tally()).progress(pilot_entity(by_id[i])) for i in page], len(ids)
