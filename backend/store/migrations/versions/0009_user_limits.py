"""users.limits: an admin's per-user raises of the spending limits (JSON object, null: the settings' defaults)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: a plain ADD COLUMN on SQLite and PostgreSQL alike (no table copy).
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("limits")
