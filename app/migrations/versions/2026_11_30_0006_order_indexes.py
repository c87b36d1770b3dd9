"""indexes of the connections' orders

`students(orderBy: LAST_NAME_*)` pages by (last_name, first_name, netid) and
`plans(orderBy: STUDENT_NETID_*)` by (student_netid, id): each order, read forwards or backwards
and continued from a cursor by a row comparison, is a walk of one of these indexes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

# Alembic's revision template (script.py.mako): every revision repeats this header, and spells
# out its own tables, columns and SQL instead of sharing code with other revisions or the models.
# A revision is frozen history: shared code changed later would change what it did.

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_students_name_order", "students", ["last_name", "first_name", "netid"])
    op.create_index("ix_academic_plans_student_order", "academic_plans", ["student_netid", "id"])


def downgrade() -> None:
    op.drop_index("ix_academic_plans_student_order", table_name="academic_plans")
    op.drop_index("ix_students_name_order", table_name="students")
