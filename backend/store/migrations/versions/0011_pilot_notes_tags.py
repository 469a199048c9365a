"""pilots.notes and pilot_tags: the owner's notes and tags on a pilot (issue 16)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable with a default: a plain ADD COLUMN on SQLite and PostgreSQL alike, existing pilots have none.
    with op.batch_alter_table("pilots") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=True, server_default=""))
    op.create_table(
        "pilot_tags",
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(["pilot_id"], ["pilots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pilot_id", "tag"),
    )
    op.create_index("ix_pilot_tags_tag", "pilot_tags", ["tag"])


def downgrade() -> None:
    op.drop_table("pilot_tags")
    with op.batch_alter_table("pilots") as batch:
        batch.drop_column("notes")
