"""Change notifications: capturing entries with the writes that make them, and reading the feed.

Capture. A writer reads the records it is about to write (`Capture.before`), writes, reads them
again (`Capture.after`), and keeps an entry for each record whose JSON differs: an upsert with
the same values, a file loaded twice, a D-plan set to what it was, write none. `flush` appends
them in the writer's transaction (app/repositories/changes.py says how positions stay in commit
order). Never commits.

Reading. Entries obey the rules of the records they carry: `students:read.sensitive` for any,
and a FERPA-protected student's (as the student is now) only with `people:private`; to anyone
else they do not exist. What an entry shows is recorded as disclosed before the answer leaves."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.disclosures import DPLANS, PLANS, STUDENT, TERMS, Disclosed, Recipient
from app.errors import ChangesExpired, Invalid, Problem
from app.repositories import change_records
from app.repositories.change_records import KINDS, Found
from app.repositories.changes import ChangeFeed, ChangeRepository, Page
from app.services import disclosures as disclosures_service
from app.services import retention
from app.services.retention import PRUNE_BATCH

__all__ = ["Capture", "ChangeFeed", "Query", "page", "prune", "read_page", "remaining"]
PAGE_MAX = 1000
RECORD_TYPES = {"student": STUDENT, "term": TERMS, "plan": PLANS, "dplan": DPLANS}
# The kinds of entry a load table's rows are.
TABLE_KINDS = {"students": "student", "student_terms": "term", "plans": "plan", "dplans": "dplan"}


def key_of(kind: str, row: dict[str, Any]) -> str:
    """An entry's key, from a row as written (a load's or generate's columns)."""
    if kind == "student":
        return str(row["netid"])
    if kind == "dplan":
        return f"{row['netid']}/{row['term_code']}"
    return str(row["id"])


@dataclass
class Capture:
    """The entries one transaction's writes make. Disabled (CHANGES_CAPTURE off), it reads
    nothing and writes nothing."""

    session: AsyncSession
    now: datetime
    enabled: bool = True
    pending: list[dict[str, Any]] = field(default_factory=list)

    async def before(self, kind: str, keys: Collection[str]) -> Found:
        if not self.enabled:
            return {}
        return await change_records.records(self.session, kind, keys, self.now)

    async def after(
        self, kind: str, keys: Collection[str], before: Found, source: Callable[[str], str]
    ) -> None:
        """Keep an entry for each of `keys` whose record now differs from `before`;
        `source(key)` says what made it (`task <id>`, `load`, ...)."""
        if not self.enabled:
            return
        after = await change_records.records(self.session, kind, keys, self.now)
        for key in sorted(after):
            netid, record = after[key]
            was = before.get(key)
            if was is not None and was[1] == record:
                continue
            self.pending.append(
                {
                    "committed_at": self.now,
                    "kind": kind,
                    "key": key,
                    "netid": netid,
                    "op": "insert" if was is None else "update",
                    "source": source(key)[:64],
                    "record": record,
                }
            )

    async def flush(self) -> int:
        """Append the entries kept so far (call last in the transaction); how many."""
        count = len(self.pending)
        await ChangeRepository(self.session).append(self.pending)
        self.pending = []
        return count


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    after: int = 0
    kind: str | None = None
    netid: str | None = None


POSITION_MAX = 2**63 - 1  # positions are BIGINT


def check(after: int, kind: str | None, limit: int | None = None) -> None:
    problems = []
    if not 0 <= after <= POSITION_MAX:
        problems.append(Problem("after", f"must be a position, from 0 to {POSITION_MAX}"))
    if kind is not None and kind not in KINDS:
        problems.append(Problem("kind", f"must be one of {', '.join(KINDS)}"))
    if limit is not None and not 1 <= limit <= PAGE_MAX:
        problems.append(Problem("limit", f"must be from 1 to {PAGE_MAX}"))
    if problems:
        raise Invalid("bad change feed request", problems)


def shown_of(page: Page) -> Disclosed:
    shown = Disclosed()
    for netid, kind in page.shown:
        shown.add(netid, RECORD_TYPES[kind])
    return shown


def expired(after: int) -> ChangesExpired:
    """The 410 of a position older than the entries kept (REST documents this very answer)."""
    return ChangesExpired(
        f"entries after position {after} are no longer kept: read the collections again, then "
        "follow the changes from the position read before them"
    )


async def read_page(feed: ChangeFeed, principal: Principal, query: Query, limit: int) -> Page:
    """Up to `limit` entries after `query.after` the caller may see, in position order, and
    where to continue. ChangesExpired when `after` is older than what is kept. The caller
    records what the page shows (`shown_of`) before it answers."""
    require_scopes(principal, STUDENTS_READ)
    check(query.after, query.kind, limit)
    found = await feed.page(
        query.after,
        limit,
        kind=query.kind,
        netid=query.netid,
        include_protected=sees_protected(principal),
    )
    if found.expired:
        raise expired(query.after)
    return found


async def page(
    engine: AsyncEngine,
    principal: Principal,
    query: Query,
    limit: int,
    *,
    now: datetime,
    to: Recipient | None,
) -> Page:
    """`read_page` on its own statement, what it shows recorded as disclosed to `to`."""
    found = await read_page(ChangeFeed(engine), principal, query, limit)
    await disclosures_service.record(engine, to, shown_of(found), now)
    return found


async def page_in(session: AsyncSession, principal: Principal, query: Query, limit: int) -> Page:
    """`read_page` in the session (a GraphQL operation's): its caller records what it shows."""
    return await read_page(ChangeFeed.of_session(session), principal, query, limit)


async def remaining_in(session: AsyncSession, principal: Principal, query: Query) -> int:
    count, _head = await _remaining(ChangeFeed.of_session(session), principal, query)
    return count


async def remaining(engine: AsyncEngine, principal: Principal, query: Query) -> tuple[int, int]:
    """How many entries after `query.after` the caller may see (ChangesExpired as `page`),
    and the feed's head (the highest position written: where a consumer that is about to
    read the collections starts following from)."""
    return await _remaining(ChangeFeed(engine), principal, query)


async def _remaining(feed: ChangeFeed, principal: Principal, query: Query) -> tuple[int, int]:
    require_scopes(principal, STUDENTS_READ)
    check(query.after, query.kind)
    count, too_old, head = await feed.remaining(
        query.after,
        kind=query.kind,
        netid=query.netid,
        include_protected=sees_protected(principal),
    )
    if too_old:
        raise expired(query.after)
    return count, head


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    retention_days: int,
    *,
    batch: int = PRUNE_BATCH,
) -> int:
    """Delete entries older than the retention (CHANGES_RETENTION_DAYS), a batch a
    transaction."""

    async def delete(session: AsyncSession, before: datetime, limit: int) -> int:
        return await ChangeRepository(session).prune(before, limit)

    return await retention.prune(sessions, now, retention_days, delete, batch)
