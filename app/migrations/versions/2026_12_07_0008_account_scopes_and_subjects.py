"""service accounts: only known scopes, subjects of their own (`svc:<name>`), cut-offs

Scopes. A scope holding a comma (`urn:...:read.sensitive,urn:dartmouth:people:private`) was stored
as one scope and read as two by the token check, so it granted what no one could revoke. Scopes
are now checked against the API's four when granted; this migration brings the stored ones in
line. An account's scope that is not one of the four is dropped, not split: a comma-joined scope
may have been meant as two grants or slipped in to obtain people:private unseen, and only an
operator can tell; dropping it takes away nothing a correct grant gave (no such scope was ever
checked by name) and everything the confusion gave. Each dropped scope is reported (a WARNING
line, naming the account and the scope) so an operator can grant its parts again.

Subjects. A service account's tokens had the account's name as `sub`, a person's if one was so
named (they shared tasks). Now `svc:<name>`. The tasks a service account requested are moved to
that subject (`requester_sub` and the requester record's `sub`): a task whose requester is an
account's name is taken to be the account's. If a person bears the same name, their own earlier
tasks go with it: the safe side (no one is shown another's task; a holder of
urn:dartmouth:tasks:students:write still reads them). Disclosure records keep the subject they
were written with (a record of what happened), and found sets expire within 12 hours.

A `sub` holds 128 characters, so a name now holds 124; an existing account with a longer name
cannot have a subject and is disabled (reported): create one with a shorter name.

Cut-offs. `disabled_at` and `tokens_not_before`, both empty (no account is cut off), but for
the accounts disabled above.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""

# Alembic's revision template (script.py.mako): every revision repeats this header, and spells
# out its own tables, columns and SQL instead of sharing code with other revisions or the models.
# A revision is frozen history: shared code changed later would change what it did.

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# As of this revision (a migration does not follow later changes of the code's constants):
# app.auth.scopes.ALL_SCOPES, app.auth.principal.SERVICE_ACCOUNT_PREFIX, and the longest name.
KNOWN_SCOPES = (
    "urn:dartmouth:students:write.sensitive",
    "urn:dartmouth:tasks:students:write",
    "urn:dartmouth:students:read.sensitive",
    "urn:dartmouth:people:private",
)
PREFIX = "svc:"
MAX_NAME = 128 - len(PREFIX)

accounts = sa.table(
    "service_accounts",
    sa.column("name", sa.String),
    sa.column("scopes", sa.JSON),
    sa.column("disabled_at", app.models.base.UtcDateTime),
    sa.column("tokens_not_before", app.models.base.UtcDateTime),
)


def _only_known_scopes(connection: sa.Connection) -> None:
    for name, scopes in connection.execute(sa.select(accounts.c.name, accounts.c.scopes)).all():
        stored = scopes if isinstance(scopes, list) else []
        kept = list(dict.fromkeys(s for s in stored if s in KNOWN_SCOPES))
        for scope in (s for s in stored if s not in KNOWN_SCOPES):
            log.warning(
                "service account %r: dropped the scope %r (not one of the API's scopes; "
                "grant its parts again with `studentgraph account grant` if they were meant)",
                name,
                scope,
            )
        if kept != stored:
            stmt = accounts.update().where(accounts.c.name == name).values(scopes=kept)
            connection.execute(stmt)


def _disable_long_names(connection: sa.Connection) -> None:
    long = sa.func.length(accounts.c.name) > MAX_NAME
    for (name,) in connection.execute(sa.select(accounts.c.name).where(long)).all():
        log.warning(
            "service account %r: disabled, its name is over %d characters (a token's sub, "
            "%s and the name, holds 128): create an account with a shorter name",
            name,
            MAX_NAME,
            PREFIX,
        )
    now = datetime.now(UTC)
    connection.execute(accounts.update().where(long).values(disabled_at=now, tokens_not_before=now))


def _tasks_to_service_subjects(connection: sa.Connection) -> None:
    new_sub = f"'{PREFIX}' || requester_sub"
    if connection.dialect.name == "postgresql":
        record = f"jsonb_set(requester::jsonb, '{{sub}}', to_jsonb({new_sub}))::json"
    else:
        record = f"json_set(requester, '$.sub', {new_sub})"
    moved = connection.execute(
        sa.text(
            f"UPDATE tasks SET requester = {record}, requester_sub = {new_sub} "  # noqa: S608
            "WHERE requester_sub IN (SELECT name FROM service_accounts "
            "WHERE length(name) <= :longest)"
        ),
        {"longest": MAX_NAME},
    )
    if moved.rowcount:
        log.warning(
            "%d tasks requested by service accounts now name them %s<name>", moved.rowcount, PREFIX
        )


def upgrade() -> None:
    with op.batch_alter_table("service_accounts", schema=None) as batch_op:
        for column in ("disabled_at", "tokens_not_before"):
            batch_op.add_column(
                sa.Column(column, app.models.base.UtcDateTime(timezone=True), nullable=True)
            )
    connection = op.get_bind()
    _only_known_scopes(connection)
    _disable_long_names(connection)
    _tasks_to_service_subjects(connection)


def downgrade() -> None:
    """Dropped scopes are not restored (they were never valid), nor tasks' requesters moved."""
    with op.batch_alter_table("service_accounts", schema=None) as batch_op:
        batch_op.drop_column("tokens_not_before")
        batch_op.drop_column("disabled_at")
