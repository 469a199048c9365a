"""The metric-series engine: each run's (key, epoch, value) points, and the same as one row per series.

Points are upserted one row per (run, key, epoch) (the newest value wins), and in the same transaction
``metric_series`` keeps each (run, key) history as JSON arrays, so a whole pilot's curves are read as a
few rows. NaN and infinities survive as a flag beside a NULL value (0 finite, 1 NaN, 2 +inf, 3 -inf).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.store.db import utc_now
from backend.store.entities import MetricPoint, MetricSeries, MetricSeriesJson, Superseded
from backend.store.models import SqlMetricPoint, SqlMetricSeries, SqlRun
from backend.store.rows import StorePart
from backend.store.runs import owned_by
from backend.store.versions import bump_runs

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

_Points = dict[str, dict[int, tuple[float | None, int]]]  # key -> epoch -> (value or None, special flag)


def _encode(value: float) -> tuple[float | None, int]:
    if math.isnan(value):
        return None, 1
    if math.isinf(value):
        return None, 2 if value > 0 else 3
    return float(value), 0


class Metrics(StorePart):
    """The metric half of :class:`backend.store.Store`."""

    @functools.cached_property
    def _upserts(self) -> tuple[Any, Any]:
        """The two INSERT ... ON CONFLICT DO UPDATE statements (points, series), in the engine's dialect."""
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        point = insert(SqlMetricPoint)
        series = insert(SqlMetricSeries)
        return (
            point.on_conflict_do_update(
                index_elements=["run_id", "key", "epoch"],
                set_={"value": point.excluded.value, "special": point.excluded.special},
            ),
            series.on_conflict_do_update(
                index_elements=["run_id", "key"],
                set_={
                    "epochs": series.excluded.epochs,
                    "values": series.excluded["values"],
                    "specials": series.excluded.specials,
                    "last_epoch": series.excluded.last_epoch,
                },
            ),
        )

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
                fence = update(SqlRun).where(*owned_by(run_id, attempt)).values(heartbeat_at=utc_now())
                if not cast(CursorResult[Any], connection.execute(fence)).rowcount:
                    raise Superseded(f"run {run_id}: attempt {attempt} no longer owns it (requeued or claimed again)")
            connection.execute(self._upserts[0], rows)
            self._merge_series(connection, run_id, rows)
            bump_runs(connection, [run_id])
        return len(rows)

    def _merge_series(self, connection: Any, run_id: int, rows: list[dict[str, Any]]) -> None:
        by_key: _Points = {}
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

    def _rewrite_series(self, connection: Any, run_id: int, by_key: _Points) -> None:
        """New series, or points out of epoch order: merge with what is stored and write whole arrays."""
        existing = connection.execute(
            select(SqlMetricSeries.key, SqlMetricSeries.epochs, SqlMetricSeries.values, SqlMetricSeries.specials).where(
                SqlMetricSeries.run_id == run_id, SqlMetricSeries.key.in_(list(by_key))
            )
        )
        merged: _Points = {key: {} for key in by_key}
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
        connection.execute(self._upserts[1], out)

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
