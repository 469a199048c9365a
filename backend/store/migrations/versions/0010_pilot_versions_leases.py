"""pilots.version (the key of the API's summary cache) and service_leases (one reconciler among N processes)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable with a default: a plain ADD COLUMN on SQLite and PostgreSQL alike, existing pilots start at 0.
    with op.batch_alter_table("pilots") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True, server_default="0"))
    op.create_table(
        "service_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_leases")
    with op.batch_alter_table("pilots") as batch:
        batch.drop_column("version")
