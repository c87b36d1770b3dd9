"""Disclosure records: written by one statement of their own (or inside the statement that reads,
app/repositories/json_reads), listed for `studentgraph audit`, deleted past their retention.

A record is one request's disclosure of one combination of record types, its students in
`netids` (app/models/disclosure.py). A student's records are found by PostgreSQL's GIN index of
those arrays, or SQLite's side table `disclosure_netids`: one index lookup either way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import execute_lone, fetch_all
from app.domain.disclosures import Disclosed, Recipient
from app.models import Disclosure
from app.models.disclosure import SQLITE_NETIDS
from app.repositories import AnySelect, Record
from app.repositories.json_reads.dialects import DIALECTS

# One statement however many students: the (netid, record types) pairs travel as arrays and
# the statement makes one record of each combination of types.
_INSERT = {
    "postgresql": (
        "INSERT INTO disclosures (at, sub, operation, record_types, scopes, request_id, netids) "
        "SELECT $1, $2, $3, x.t, $4, $5, array_agg(x.n ORDER BY x.n) "
        "FROM unnest(CAST($6 AS TEXT[]), CAST($7 AS TEXT[])) AS x(n, t) "
        "CROSS JOIN (SELECT set_config('synchronous_commit', "  # as roots.SYNCHRONOUS_COMMIT
        "coalesce(CAST($8 AS TEXT), current_setting('synchronous_commit')), true) AS s) d "
        "GROUP BY x.t"
    ),
    # SQLite's triggers fill `disclosure_netids` from each inserted record (migration 0007).
    "sqlite": (
        "INSERT INTO disclosures (at, sub, operation, record_types, scopes, request_id, netids) "
        "SELECT ?1, ?2, ?3, x.t, ?4, ?5, json_group_array(x.n) FROM (SELECT "
        "json_extract(p.value, '$[0]') AS n, json_extract(p.value, '$[1]') AS t "
        "FROM json_each(?6) AS p ORDER BY n) AS x GROUP BY x.t"
    ),
}


async def record_now(
    engine: AsyncEngine, recipient: Recipient, shown: Disclosed, at: datetime
) -> None:
    """The records of what was `shown`, written by one statement committed on its own (before
    the answer leaves: the caller awaits it), with the recipient's `synchronous_commit`."""
    if not shown:
        return
    dialect = DIALECTS[engine.dialect.name]
    pairs = list(shown)
    head = [dialect.instant(at), recipient.sub, recipient.operation]
    tail = [recipient.scopes, recipient.request_id]
    if dialect.name == "postgresql":
        netids, types = [n for n, _ in pairs], [t for _, t in pairs]
        params = [*head, *tail, netids, types, recipient.synchronous_commit]
    else:
        params = [*head, *tail, dialect.list_param([list(p) for p in pairs])]
    await execute_lone(engine, _INSERT[dialect.name], params)


class DisclosureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def add(self, values: list[dict[str, object]]) -> None:
        """Records of `Disclosure`'s columns, in the session's unit of work (one statement)."""
        if values:
            await self.session.execute(insert(Disclosure), values)

    async def add_shown(self, recipient: Recipient, shown: Disclosed, at: datetime) -> None:
        who = {
            "at": at,
            "sub": recipient.sub,
            "operation": recipient.operation,
            "scopes": recipient.scopes,
            "request_id": recipient.request_id,
        }
        groups = shown.by_record_types()
        await self.add([{**who, "record_types": t, "netids": n} for t, n in groups.items()])

    def _of(self, netid: str) -> ColumnElement[bool]:
        """The records naming `netid`, as one index lookup."""
        if self._postgresql:
            return Disclosure.netids.contains([netid])
        side = select(SQLITE_NETIDS.c.disclosure_id).where(SQLITE_NETIDS.c.netid == netid)
        return Disclosure.id.in_(side)

    async def of_student(
        self, netid: str, *, since: datetime | None, sub: str | None, limit: int
    ) -> list[Record]:
        """Newest first."""
        stmt = self._audit_statement(netid, since=since, sub=sub, limit=limit)
        return await fetch_all(self.session, stmt)

    def _audit_statement(
        self, netid: str, *, since: datetime | None, sub: str | None, limit: int
    ) -> AnySelect:
        stmt = select(
            Disclosure.at,
            Disclosure.sub,
            literal(netid).label("netid"),
            Disclosure.operation,
            Disclosure.record_types,
            Disclosure.scopes,
            Disclosure.request_id,
        ).where(self._of(netid))
        if since is not None:
            stmt = stmt.where(Disclosure.at >= since)
        if sub is not None:
            stmt = stmt.where(Disclosure.sub == sub)
        return stmt.order_by(Disclosure.at.desc(), Disclosure.id.desc()).limit(limit)

    async def delete_before(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` records older than `before`; how many were deleted."""
        older = select(Disclosure.id).where(Disclosure.at < before).limit(limit)
        result = await self.session.execute(delete(Disclosure).where(Disclosure.id.in_(older)))
        return int(getattr(result, "rowcount", 0) or 0)
