"""pilots.sequential, pilots.sequential_open: a pilot that stops when settled (its plan and looks)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: a plain ADD COLUMN on SQLite and PostgreSQL alike; existing pilots are fixed designs.
    with op.batch_alter_table("pilots") as batch:
        batch.add_column(sa.Column("sequential", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))
        batch.add_column(sa.Column("sequential_open", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pilots") as batch:
        batch.drop_column("sequential_open")
        batch.drop_column("sequential")
