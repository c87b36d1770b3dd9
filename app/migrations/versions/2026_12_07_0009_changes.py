"""changes: the change feed's entries (a transactional outbox) and its retention mark

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("committed_at", app.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("netid", sa.String(length=16), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_changes_netid_position", "changes", ["netid", "position"])
    op.create_index("ix_changes_committed_at", "changes", ["committed_at"])
    op.create_table(
        "change_feed_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed_state")),
    )
    op.execute("INSERT INTO change_feed_state (id, pruned_through) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("change_feed_state")
    op.drop_index("ix_changes_committed_at", table_name="changes")
    op.drop_index("ix_changes_netid_position", table_name="changes")
    op.drop_table("changes")
