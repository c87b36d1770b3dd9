"""persisted queries (APQ and the safelist)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00
"""

# Alembic's revision template (script.py.mako): every revision repeats this header, and spells
# out its own tables, columns and SQL instead of sharing code with other revisions or the models.
# A revision is frozen history: shared code changed later would change what it did.

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", app.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persisted_queries")),
    )


def downgrade() -> None:
    op.drop_table("persisted_queries")
