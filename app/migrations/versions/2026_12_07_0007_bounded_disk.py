"""bounded disk per request (issue 19)

- `persisted_queries.safelisted`: the operator's safelist apart from what callers persisted
  (APQ). The table could not tell them apart before: every existing row is taken as persisted
  by a caller (not safelisted), the safe side; re-run `studentgraph persisted add` for the
  safelist after upgrading (README: *WebSocket operations and persisted queries*).
- `ix_tasks_finished`: finished tasks by when they finished, for TASKS_RETENTION_DAYS.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FINISHED = sa.text("status IN ('complete', 'error')")


def upgrade() -> None:
    with op.batch_alter_table("persisted_queries") as batch_op:
        batch_op.add_column(
            sa.Column("safelisted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index(
        "ix_tasks_finished",
        "tasks",
        ["completed_date"],
        postgresql_where=FINISHED,
        sqlite_where=FINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_finished", table_name="tasks")
    with op.batch_alter_table("persisted_queries") as batch_op:
        batch_op.drop_column("safelisted")
