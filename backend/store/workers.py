"""Workers as they report themselves, and the cost history the estimates read (samples per second)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.store.db import as_utc, transaction, utc_now
from backend.store.entities import RunStatus, ThroughputPoint, Worker
from backend.store.models import SqlArm, SqlPilot, SqlRun, SqlWorker
from backend.store.rows import StorePart
from pilot_spec.device import device_kind as kind_of


class Workers(StorePart):
    """The worker and cost-history half of :class:`backend.store.Store`."""

    def worker_seen(self, *, name: str, host: str, device: str, queues: list[str], current_run_id: int | None) -> None:
        with transaction(self._sessions) as session:
            row = session.get(SqlWorker, name)
            if row is None:  # a worker's first report: the same fields as every later one
                row = SqlWorker(name=name)
                session.add(row)
            row.host, row.device, row.queues = host, device, queues
            row.current_run_id, row.last_seen = current_run_id, utc_now()

    def list_workers(self, *, seen_within_s: float) -> list[Worker]:
        cutoff = utc_now() - timedelta(seconds=seen_within_s)
        with transaction(self._sessions) as session:
            rows = session.scalars(select(SqlWorker).where(SqlWorker.last_seen >= cutoff).order_by(SqlWorker.name))
            return [
                Worker(
                    name=r.name,
                    host=r.host,
                    device=r.device,
                    queues=list(r.queues),
                    current_run_id=r.current_run_id,
                    last_seen=as_utc(r.last_seen) or utc_now(),
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
                    SqlRun.pilot_id.in_(pilots),
                    SqlRun.status == RunStatus.SUCCEEDED.value,
                    SqlRun.samples_per_second.is_not(None),
                )
            )
            return [
                ThroughputPoint(float(sps), regularizer)
                for sps, device, regularizer in rows
                if sps is not None and kind_of(device or "") == device_kind
            ]
