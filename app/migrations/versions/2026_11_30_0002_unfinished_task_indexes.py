"""partial indexes of unfinished tasks

Taking the next tasks reads unfinished tasks in id order and, for each, looks for an earlier
unfinished one of the same resource. Indexes of unfinished tasks only keep both cheap however
many finished tasks the table holds and however long the queue is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:30:00
"""

# Alembic's revision template (script.py.mako): every revision repeats this header, and spells
# out its own tables, columns and SQL instead of sharing code with other revisions or the models.
# A revision is frozen history: shared code changed later would change what it did.

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = sa.text("status IN ('accepted', 'running')")


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_resource_order")
        batch_op.create_index(
            "ix_tasks_unfinished",
            ["id"],
            postgresql_where=UNFINISHED,
            sqlite_where=UNFINISHED,
        )
        batch_op.create_index(
            "ix_tasks_unfinished_by_resource",
            ["resource_id", "id"],
            postgresql_where=UNFINISHED,
            sqlite_where=UNFINISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_unfinished_by_resource")
        batch_op.drop_index("ix_tasks_unfinished")
        batch_op.create_index("ix_tasks_resource_order", ["resource_id", "id"], unique=False)
