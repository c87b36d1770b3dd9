"""The change feed's SQL: appending entries in the writer's transaction, reading a page of
them as one statement, counting what remains, and retention.

Order. Positions come from a sequence, taken before commit; a reader shown position N while a
transaction holding a lower one is in flight would skip that entry forever. So entries are
appended under a lock held until the writer's transaction ends (PostgreSQL: a transaction-level
advisory lock; SQLite: its one write lock, held from a transaction's first write to its end),
which makes positions follow commit order: when a reader sees position N committed, every lower
position was committed (and is visible to it) or rolled back before N was even taken. The lock
is taken last, just before the insert, after the writer's own row locks, and nothing after it
waits on another writer's rows: it cannot deadlock, and it serializes only the end of a write
(insert, completion, commit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import SerializedSession, fetch_all, fetch_row
from app.models import Change, ChangeFeedState
from app.repositories.json_reads.dialects import DIALECTS
from app.repositories.notify import CHANGES_CHANNEL, notify
from app.repositories.upsert import dialect_insert

# pg_advisory_xact_lock's key: "sgchange" in ASCII, so no other lock of ours shares it.
CAPTURE_LOCK = 0x7367636861_6E6765 & 0x7FFFFFFFFFFFFFFF


_LOCK_AND_NOTIFY = text(f"SELECT pg_advisory_xact_lock(:key), pg_notify('{CHANGES_CHANNEL}', '')")


@dataclass(frozen=True)
class Page:
    entries: bytes  # a JSON array of entries, in position order
    shown: list[tuple[str, str]]  # (netid, kind) of each entry shown
    next_after: int  # where to continue: past every entry this caller may not see, too
    expired: bool  # `after` is older than what is kept (410)


class ChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, entries: Sequence[dict[str, Any]]) -> None:
        """Insert entries (their columns but `position`) under the capture lock (see above)."""
        if not entries:
            return
        # Subscribers and webhook deliverers wake when (and only if) this commits.
        if self.session.get_bind().dialect.name == "postgresql":
            await fetch_all(self.session, _LOCK_AND_NOTIFY, {"key": CAPTURE_LOCK})
        else:
            await notify(self.session, (CHANGES_CHANNEL, ""))
        await self.session.execute(insert(Change), list(entries))

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete at most `limit` of the oldest entries committed before `before`, and raise
        the retention mark to the highest position deleted; how many were deleted."""
        oldest = (
            select(Change.position)
            .where(Change.committed_at < before)
            .order_by(Change.position)
            .limit(limit)
        )
        through = await self.session.execute(select(func.max(oldest.subquery().c.position)))
        highest = through.scalar()
        if highest is None:
            return 0
        result = await self.session.execute(delete(Change).where(Change.position <= highest))
        mark = dialect_insert(self.session, ChangeFeedState).values(id=1, pruned_through=highest)
        await self.session.execute(
            mark.on_conflict_do_update(
                index_elements=[ChangeFeedState.id],
                set_={"pruned_through": highest},
                where=ChangeFeedState.pruned_through < highest,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


# --- reads: one statement each -------------------------------------------------------------------


def _filters(d: str, first: int) -> tuple[str, list[str]]:
    """`kind` and `netid` conditions (NULL: any) on alias c, from parameter number `first`."""
    p = DIALECTS[d].param
    kind, netid = p(first), p(first + 1)
    if d == "postgresql":  # typed: `$n IS NULL` alone tells PostgreSQL nothing of its type
        kind, netid = f"CAST({kind} AS TEXT)", f"CAST({netid} AS TEXT)"
    clause = f" AND ({kind} IS NULL OR c.kind = {kind}) AND ({netid} IS NULL OR c.netid = {netid})"
    return clause, ["kind", "netid"]


def _visible(include_protected: bool) -> str:
    if include_protected:
        return ""
    return (
        " AND NOT EXISTS (SELECT 1 FROM students s WHERE s.netid = c.netid AND s.ferpa_protected)"
    )


def _entry(d: str) -> str:
    """One entry's JSON text (its record spliced in, as stored)."""
    dialect = DIALECTS[d]
    parts = [
        "'{\"position\":' || CAST(c.position AS TEXT)",
        f"',\"committed_at\":' || {dialect.timestamp('c.committed_at', False)}",
        f"',\"kind\":' || {dialect.string('c.kind', False)}",
        f"',\"key\":' || {dialect.string('c.key', False)}",
        f"',\"netid\":' || {dialect.string('c.netid', False)}",
        f"',\"op\":' || {dialect.string('c.op', False)}",
        f"',\"source\":' || {dialect.string('c.source', False)}",
        "',\"record\":' || c.record || '}'",
    ]
    return " || ".join(parts)


def page_statement(d: str, include_protected: bool) -> tuple[str, list[str]]:
    """The page (entries JSON, the shown (netid, kind) pairs as JSON), the head (the highest
    position written), and whether `after` is older than the retention mark: one statement."""
    dialect = DIALECTS[d]
    p = dialect.param
    filters, names = _filters(d, 3)
    source = (
        f"changes c WHERE c.position > {p(1)}{filters}{_visible(include_protected)} "
        f"ORDER BY c.position LIMIT {p(2)}"
    )
    picked = f"SELECT c.position, c.netid, c.kind, {_entry(d)} AS j FROM {source}"
    if d == "postgresql":
        entries = "'[' || coalesce(string_agg(x.j, ',' ORDER BY x.position), '') || ']'"
        shown = "coalesce(json_agg(json_build_array(x.netid, x.kind)), '[]')::text"
    else:
        entries = "'[' || coalesce(group_concat(x.j, ','), '') || ']'"
        shown = "json_group_array(json_array(x.netid, x.kind))"
    sql = (
        f"SELECT {entries}, {shown}, count(*), max(x.position), "
        "(SELECT max(h.position) FROM changes h), "
        f"(SELECT f.pruned_through > {p(1)} FROM change_feed_state f WHERE f.id = 1) "
        f"FROM ({picked}) x"
    )
    return sql, ["after", "limit", *names]


def count_statement(d: str, include_protected: bool) -> tuple[str, list[str]]:
    """How many entries after `after` the caller may see, and whether `after` expired."""
    p = DIALECTS[d].param
    filters, names = _filters(d, 2)
    sql = (
        f"SELECT (SELECT count(*) FROM changes c WHERE c.position > {p(1)}{filters}"
        f"{_visible(include_protected)}), "
        f"(SELECT f.pruned_through > {p(1)} FROM change_feed_state f WHERE f.id = 1), "
        "(SELECT coalesce(max(h.position), 0) FROM changes h)"
    )
    return sql, ["after", *names]


Run = Callable[[str, list[Any]], Awaitable[tuple[Any, ...]]]


async def _in_session(session: AsyncSession, sql: str, params: list[Any]) -> tuple[Any, ...]:
    turn = session.turn if isinstance(session, SerializedSession) else nullcontext()
    async with turn:
        connection = await session.connection()
        return tuple((await connection.exec_driver_sql(sql, tuple(params))).one())


class ChangeFeed:
    """Reads of the feed, one statement each: on its own (an engine), or in a session."""

    def __init__(self, engine: AsyncEngine, session: AsyncSession | None = None) -> None:
        self.dialect = engine.dialect.name
        self._run: Run = (
            partial(fetch_row, engine) if session is None else partial(_in_session, session)
        )

    @classmethod
    def of_session(cls, session: AsyncSession) -> ChangeFeed:
        bind = session.bind
        assert isinstance(bind, AsyncEngine)
        return cls(bind, session)

    async def page(
        self,
        after: int,
        limit: int,
        *,
        kind: str | None,
        netid: str | None,
        include_protected: bool,
    ) -> Page:
        sql, slots = page_statement(self.dialect, include_protected)
        values = {"after": after, "limit": limit, "kind": kind, "netid": netid}
        entries, shown, count, last, head, expired = await self._run(
            sql, [values[s] for s in slots]
        )
        # A full page continues after its last entry; a short one after everything written so
        # far, past the entries this caller may not see or did not ask for.
        next_after = int(last) if int(count) == limit else max(after, int(head or 0))
        pairs = [(str(n), str(k)) for n, k in orjson.loads(shown)] if int(count) else []
        return Page(str(entries).encode(), pairs, next_after, bool(expired))

    async def head(self) -> int:
        """The highest position written (0: none)."""
        (head,) = await self._run("SELECT coalesce(max(position), 0) FROM changes", [])
        return int(head)

    async def remaining(
        self, after: int, *, kind: str | None, netid: str | None, include_protected: bool
    ) -> tuple[int, bool, int]:
        """(entries remaining, `after` expired, the highest position written)."""
        sql, slots = count_statement(self.dialect, include_protected)
        values = {"after": after, "kind": kind, "netid": netid}
        count, expired, head = await self._run(sql, [values[s] for s in slots])
        return int(count), bool(expired), int(head)
