"""Disclosure records: written by one statement of their own (or inside the statement that reads,
app/repositories/json_reads), listed for `studentgraph audit`, deleted past their retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import execute_lone, fetch_all
from app.domain.disclosures import Disclosed, Recipient
from app.models import Disclosure
from app.repositories import Record
from app.repositories.json_reads.dialects import DIALECTS

# One statement however many students: the (netid, record types) pairs travel as arrays.
_INSERT = {
    "postgresql": (
        "INSERT INTO disclosures (at, sub, netid, operation, record_types, scopes, request_id) "
        "SELECT $1, $2, x.n, $3, x.t, $4, $5 "
        "FROM unnest(CAST($6 AS TEXT[]), CAST($7 AS TEXT[])) AS x(n, t)"
    ),
    "sqlite": (
        "INSERT INTO disclosures (at, sub, netid, operation, record_types, scopes, request_id) "
        "SELECT ?1, ?2, json_extract(x.value, '$[0]'), ?3, "
        "json_extract(x.value, '$[1]'), ?4, ?5 FROM json_each(?6) AS x"
    ),
}


async def record_now(
    engine: AsyncEngine, recipient: Recipient, shown: Disclosed, at: datetime
) -> None:
    """One record per student `shown`, written by one statement committed on its own (before
    the answer leaves: the caller awaits it)."""
    if not shown:
        return
    dialect = DIALECTS[engine.dialect.name]
    pairs = list(shown)
    head = [dialect.instant(at), recipient.sub, recipient.operation]
    tail = [recipient.scopes, recipient.request_id]
    if dialect.name == "postgresql":
        params = [*head, *tail, [n for n, _ in pairs], [t for _, t in pairs]]
    else:
        params = [*head, *tail, dialect.list_param([list(p) for p in pairs])]
    await execute_lone(engine, _INSERT[dialect.name], params)


class DisclosureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: list[dict[str, object]]) -> None:
        """Rows of `Disclosure`'s columns, in the session's unit of work (one statement)."""
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
        await self.add([{**who, "netid": n, "record_types": t} for n, t in shown])

    async def of_student(
        self, netid: str, *, since: datetime | None, sub: str | None, limit: int
    ) -> list[Record]:
        """Newest first."""
        stmt = select(
            Disclosure.at,
            Disclosure.sub,
            Disclosure.netid,
            Disclosure.operation,
            Disclosure.record_types,
            Disclosure.scopes,
            Disclosure.request_id,
        ).where(Disclosure.netid == netid)
        if since is not None:
            stmt = stmt.where(Disclosure.at >= since)
        if sub is not None:
            stmt = stmt.where(Disclosure.sub == sub)
        stmt = stmt.order_by(Disclosure.at.desc(), Disclosure.id.desc()).limit(limit)
        return await fetch_all(self.session, stmt)

    async def delete_before(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` records older than `before`; how many were deleted."""
        older = select(Disclosure.id).where(Disclosure.at < before).limit(limit)
        result = await self.session.execute(delete(Disclosure).where(Disclosure.id.in_(older)))
        return int(getattr(result, "rowcount", 0) or 0)
