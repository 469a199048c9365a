"""runs.test_labels: the test set's labels beside each run's predictions (per-example part of the intervals)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: runs stored before it keep NULL and the analysis falls back to the seed-only interval.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column(
                "test_labels",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("test_labels")
