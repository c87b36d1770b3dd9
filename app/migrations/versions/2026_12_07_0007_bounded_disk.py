"""bounded disk per request (issue 19)

- `persisted_queries.safelisted`: the operator's safelist apart from what callers persisted
  (APQ). The table could not tell them apart before: every existing row is taken as persisted
  by a caller (not safelisted), the safe side; re-run `studentgraph persisted add` for the
  safelist after upgrading (docs/api/websocket-and-persisted.md).
- `ix_tasks_finished`: finished tasks by when they finished, for TASKS_RETENTION_DAYS.
- `disclosures`: one record per request and combination of record types, its students in
  `netids` (PostgreSQL: TEXT[] with a GIN index; SQLite: a JSON array, and the side table
  `disclosure_netids` kept by triggers), where it was one record per student. Existing records
  are migrated: those of one request (same request id, instant, caller, operation, scopes and
  record types) become one, their netids sorted; then the old table is dropped.
- `found_sets`: the first keys packed (`packed`, at most FOUND_SET_MAX_BYTES) with the set's
  `total` and, past them, what reads the rest (`beyond`), where every key was kept as JSON. The
  sets kept when it runs are dropped (not converted: packing is the app's code, and a set lives
  12 hours): a caller paging one then gets the answer an expired key gets, and starts again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""

# Alembic's revision template (script.py.mako): every revision repeats this header, and spells
# out its own tables, columns and SQL instead of sharing code with other revisions or the models.
# A revision is frozen history: shared code changed later would change what it did.

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FINISHED = sa.text("status IN ('complete', 'error')")
# From one record per student (0006) to one per request and record types (0007): the records
# of one request (same request id, instant, caller, operation, scopes and types) become one.
BY_REQUEST = {
    "postgresql": (
        "INSERT INTO disclosures (at, sub, operation, record_types, scopes, request_id, netids) "
        "SELECT at, sub, operation, record_types, scopes, request_id, "
        "array_agg(DISTINCT netid ORDER BY netid) FROM disclosures_0006 "
        "GROUP BY at, sub, operation, record_types, scopes, request_id ORDER BY min(id)"
    ),
    "sqlite": (
        "INSERT INTO disclosures (at, sub, operation, record_types, scopes, request_id, netids) "
        "SELECT at, sub, operation, record_types, scopes, request_id, "
        "json_group_array(DISTINCT netid) FROM (SELECT * FROM disclosures_0006 ORDER BY netid) "
        "GROUP BY at, sub, operation, record_types, scopes, request_id ORDER BY min(id)"
    ),
}
# And back: one record per student of each record.
BY_STUDENT = {
    "postgresql": (
        "INSERT INTO disclosures (at, sub, operation, record_types, scopes, request_id, netid) "
        "SELECT at, sub, operation, record_types, scopes, request_id, unnest(netids) "
        "FROM disclosures_0007 ORDER BY id"
    ),
    "sqlite": (
        "INSERT INTO disclosures (at, sub, operation, record_types, scopes, request_id, netid) "
        "SELECT d.at, d.sub, d.operation, d.record_types, d.scopes, d.request_id, x.value "
        "FROM disclosures_0007 AS d, json_each(d.netids) AS x ORDER BY d.id"
    ),
}
# SQLite: the side table that finds a student's records, kept by the records' own statements.
SQLITE_SIDE_TABLE = (
    "CREATE TABLE disclosure_netids (netid TEXT NOT NULL, disclosure_id INTEGER NOT NULL, "
    "CONSTRAINT pk_disclosure_netids PRIMARY KEY (netid, disclosure_id)) WITHOUT ROWID",
    "CREATE TRIGGER disclosures_netids_added AFTER INSERT ON disclosures BEGIN "
    "INSERT OR IGNORE INTO disclosure_netids (netid, disclosure_id) "
    "SELECT value, NEW.id FROM json_each(NEW.netids); END",
    # By its primary key, one netid at a time: no index by record needed.
    "CREATE TRIGGER disclosures_netids_removed AFTER DELETE ON disclosures BEGIN "
    "DELETE FROM disclosure_netids WHERE disclosure_id = OLD.id "
    "AND netid IN (SELECT value FROM json_each(OLD.netids)); END",
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _set_aside(old: str) -> None:
    """Rename `disclosures` to `old` with everything named after it, so the new table can take
    the names (PostgreSQL names constraints, sequences and indexes per schema, SQLite indexes)."""
    op.rename_table("disclosures", old)
    if _postgresql():
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_disclosures TO pk_{old}")
        op.execute(f"ALTER SEQUENCE disclosures_id_seq RENAME TO {old}_id_seq")


def _id_column() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _common_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("at", app.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sub", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("record_types", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
    ]


def _records_by_request() -> None:
    """From one record per student (0006) to one per request and record types (0007)."""
    op.drop_index("ix_disclosures_netid_at", table_name="disclosures")
    op.drop_index("ix_disclosures_at", table_name="disclosures")
    _set_aside("disclosures_0006")
    op.create_table(
        "disclosures",
        _id_column(),
        *_common_columns(),
        sa.Column("netids", sa.ARRAY(sa.Text()).with_variant(sa.JSON(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    op.create_index("ix_disclosures_at", "disclosures", ["at"], postgresql_using="brin")
    if _postgresql():
        op.create_index("ix_disclosures_netids", "disclosures", ["netids"], postgresql_using="gin")
    else:
        for statement in SQLITE_SIDE_TABLE:
            op.execute(statement)
    op.execute(BY_REQUEST[op.get_bind().dialect.name])
    op.drop_table("disclosures_0006")


def _records_by_student() -> None:
    """Back from 0007 to 0006: one record per student of each record."""
    if not _postgresql():
        op.execute("DROP TRIGGER disclosures_netids_added")
        op.execute("DROP TRIGGER disclosures_netids_removed")
        op.drop_table("disclosure_netids")
    else:
        op.drop_index("ix_disclosures_netids", table_name="disclosures")
    op.drop_index("ix_disclosures_at", table_name="disclosures")
    _set_aside("disclosures_0007")
    op.create_table(
        "disclosures",
        _id_column(),
        *_common_columns(),
        sa.Column("netid", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    op.create_index("ix_disclosures_at", "disclosures", ["at"], postgresql_using="brin")
    op.create_index("ix_disclosures_netid_at", "disclosures", ["netid", "at"])
    op.execute(BY_STUDENT[op.get_bind().dialect.name])
    op.drop_table("disclosures_0007")


def _found_sets(keys: sa.Column[object], *rest: sa.Column[object]) -> None:
    """Found sets of another shape: the kept ones dropped (see above)."""
    op.drop_index("ix_found_sets_expires_at", table_name="found_sets")
    op.drop_table("found_sets")
    op.create_table(
        "found_sets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_sub", sa.String(length=128), nullable=False),
        sa.Column("scopes_key", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=256), nullable=False),
        keys,
        *rest,
        sa.Column("created_at", app.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_found_sets")),
    )
    op.create_index("ix_found_sets_expires_at", "found_sets", ["expires_at"])


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
    _records_by_request()
    _found_sets(
        sa.Column("packed", sa.LargeBinary(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("beyond", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    _found_sets(sa.Column("keys", sa.JSON(), nullable=False))
    _records_by_student()
    op.drop_index("ix_tasks_finished", table_name="tasks")
    with op.batch_alter_table("persisted_queries") as batch_op:
        batch_op.drop_column("safelisted")
