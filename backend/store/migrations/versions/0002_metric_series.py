"""metric_series: each (run, key) history in one row, backfilled from metric_points

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("epochs", sa.Text(), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("specials", sa.Text(), nullable=False),
        sa.Column("last_epoch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    connection = op.get_bind()
    series: dict[tuple[int, str], list[tuple[int, float | None, int]]] = defaultdict(list)
    rows = connection.execute(
        sa.text("SELECT run_id, key, epoch, value, special FROM metric_points ORDER BY run_id, key, epoch")
    )
    for run_id, key, epoch, value, special in rows:
        series[(run_id, key)].append((epoch, value, special))
    table = sa.table(
        "metric_series", sa.column("run_id"), sa.column("key"), sa.column("epochs"), sa.column("values"),
        sa.column("specials"), sa.column("last_epoch"),
    )  # fmt: skip
    if series:
        op.bulk_insert(
            table,
            [
                {
                    "run_id": run_id,
                    "key": key,
                    "epochs": json.dumps([p[0] for p in points]),
                    "values": json.dumps([p[1] for p in points]),
                    "specials": json.dumps([p[2] for p in points]),
                    "last_epoch": points[-1][0],
                }
                for (run_id, key), points in series.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("metric_series")
