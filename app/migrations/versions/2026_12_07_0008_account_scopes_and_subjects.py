"""service accounts: only known scopes

A scope holding a comma (`urn:...:read.sensitive,urn:dartmouth:people:private`) was stored as
one scope and read as two by the token check, so it granted what no one could revoke. Scopes are
now checked against the API's four when granted; this migration brings the stored ones in line.

An account's scope that is not one of the four is dropped, not split: a comma-joined scope may
have been meant as two grants or slipped in to obtain people:private unseen, and only an operator
can tell; dropping it takes away nothing a correct grant gave (no such scope was ever checked by
name) and everything the confusion gave. Each dropped scope is reported (a WARNING line on
stderr, naming the account and the scope) so an operator can grant its parts again.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# app.auth.scopes.ALL_SCOPES as of this revision (a migration does not follow later changes).
KNOWN_SCOPES = (
    "urn:dartmouth:students:write.sensitive",
    "urn:dartmouth:tasks:students:write",
    "urn:dartmouth:students:read.sensitive",
    "urn:dartmouth:people:private",
)

accounts = sa.table("service_accounts", sa.column("name", sa.String), sa.column("scopes", sa.JSON))


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


def upgrade() -> None:
    _only_known_scopes(op.get_bind())


def downgrade() -> None:
    """Dropped scopes are not restored (they were never valid)."""
