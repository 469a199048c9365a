"""runs.resent_at: when the reconciler last sent a queued run again (a message the broker lost)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: a plain ADD COLUMN on SQLite and PostgreSQL alike (no table copy).
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("resent_at")
