"""runs.earlier_device_hours: the device-hours of a run's attempts before its retries, per device (issue 16)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not null with a constant default: a plain ADD COLUMN on SQLite and PostgreSQL alike; existing runs were
    # never retried with their compute kept, so they start with none ({}).
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("earlier_device_hours", json_type, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("earlier_device_hours")
