"""The DartAPI compat reads: each answered by one statement whose JSON the database builds (a
later page of a found set: one statement after the key lookup). Access is decided here, in the
order the routes have always checked it: filter syntax, scopes, the student, filter values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.db import transaction
from app.domain.disclosures import Recipient
from app.domain.filters import Condition
from app.errors import Invalid, NotFound
from app.replicas import Replicas
from app.repositories.json_reads import JsonReads, Listing
from app.services import found_sets
from app.services.plans import parse_plan_id


@dataclass(frozen=True)
class Collection:
    """A compat collection: `terms` or `student_plans` of `netid`, or all `plans`."""

    kind: str
    netid: str | None = None

    @property
    def resource(self) -> str:
        """What a found set is bound to: a key works only on the route that made it."""
        if self.kind == "plans":
            return "academic/plans"
        return f"students/{self.netid}/{'terms' if self.kind == 'terms' else 'plans'}"

    def ignored(self, conditions: list[Condition]) -> list[str]:
        """Filter attributes this collection does not know (ignored, and named back)."""
        table = Listing(self.kind).table
        return [c.field for c in conditions if not table.knows(c.field)]


@dataclass(frozen=True)
class Page:
    body: bytes  # JSON
    total: int
    page: int
    pagesize: int
    set_id: str | None  # the continuation key, when the found set was kept
    ignored: list[str]

    @property
    def has_next(self) -> bool:
        return self.page * self.pagesize < self.total


def _missing(collection: Collection) -> NotFound:
    return NotFound(f"no student with netid {collection.netid!r}")


async def student(
    engine: AsyncEngine,
    principal: Principal,
    netid: str,
    now: datetime,
    to: Recipient | None = None,
    replicas: Replicas | None = None,
) -> bytes:
    """`GET /api/students/{netid}`: NotFound for an unknown or hidden netid. What it shows is
    recorded as disclosed `to` the caller by the read (app.repositories.json_reads)."""
    require_scopes(principal, STUDENTS_READ)
    body = await JsonReads(engine, replicas).one(
        "student", netid, include_protected=sees_protected(principal), now=now, recipient=to
    )
    if body is None:
        raise NotFound(f"no student with netid {netid!r}")
    return body


# Alike `student` above: one read by key each, with its own key parsing and NotFound text.
async def plan(
    engine: AsyncEngine,
    principal: Principal,
    plan_id: str,
    now: datetime,
    to: Recipient | None = None,
    replicas: Replicas | None = None,
) -> bytes:
    """`GET /api/academic/plans/{id}`: NotFound for an unknown id or a hidden student's plan."""
    require_scopes(principal, STUDENTS_READ)
    key = parse_plan_id(plan_id)
    body = None
    if key is not None:
        body = await JsonReads(engine, replicas).one(
            "plan", key, include_protected=sees_protected(principal), now=now, recipient=to
        )
    if body is None:
        raise NotFound(f"no academic plan with id {plan_id!r}")
    return body


async def first_page(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    collection: Collection,
    conditions: list[Condition],
    *,
    pagesize: int,
    set_id: str,
    now: datetime,
    ttl_seconds: int,
    max_bytes: int,
    to: Recipient | None = None,
    replicas: Replicas | None = None,
) -> Page:
    """Page 1 of a collection; past one page, its keys are kept as found set `set_id` (within
    `max_bytes`: app/services/found_sets.py). The read
    scope first, then the student (unknown or hidden: 404 whatever the filters say), then the
    filters' values. What it shows is recorded as disclosed `to` the caller."""
    require_scopes(principal, STUDENTS_READ)
    reads, private = JsonReads(engine, replicas), sees_protected(principal)
    listing = Listing(collection.kind)
    try:
        found = await reads.first_page(
            listing,
            collection.netid,
            conditions,
            pagesize=pagesize,
            include_protected=private,
            now=now,
            recipient=to,
        )
    except Invalid:
        # An unknown or hidden student is a 404 whatever the filters say (all plans: no student).
        if collection.netid is not None:
            unfiltered = await reads.first_page(
                listing, collection.netid, [], pagesize=0, include_protected=private, now=now
            )
            if not unfiltered.found:
                raise _missing(collection) from None
        raise
    if not found.found:
        raise _missing(collection)
    kept = None
    if found.keys is not None:
        async with transaction(sessions) as session:
            await found_sets.keep(
                session,
                principal,
                set_id=set_id,
                resource=collection.resource,
                keys=found.keys,
                total=found.total,
                conditions=conditions,
                bound=found.bound,
                now=now,
                ttl_seconds=ttl_seconds,
                max_bytes=max_bytes,
            )
        kept = set_id
    return Page(found.body, found.total, 1, pagesize, kept, collection.ignored(conditions))


async def later_page(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    collection: Collection,
    conditions: list[Condition],
    *,
    set_id: str,
    page: int,
    pagesize: int,
    now: datetime,
    ttl_seconds: int,
    to: Recipient | None = None,
    replicas: Replicas | None = None,
) -> Page:
    """Page `page` of a kept found set (filters sent with it are ignored: the set decides)."""
    async with sessions() as session:
        stored = await found_sets.reopen_set(
            session,
            principal,
            set_id=set_id,
            resource=collection.resource,
            page=page,
            pagesize=pagesize,
            now=now,
            ttl_seconds=ttl_seconds,
        )
    body = b"[]"
    if stored.keys or stored.beyond:
        require_scopes(principal, STUDENTS_READ)
        reads, listing, private = (
            JsonReads(engine, replicas),
            Listing(collection.kind),
            sees_protected(principal),
        )
        keys = list(stored.keys)
        if stored.beyond is not None:  # past the kept keys: read again by the first query
            beyond = stored.beyond
            keys += await reads.rest_keys(
                listing,
                collection.netid,
                beyond.conditions,
                bound=beyond.bound,
                offset=beyond.offset,
                limit=beyond.limit,
                include_protected=private,
                now=now,
            )
        found, body = await reads.later_page(
            listing, collection.netid, keys, include_protected=private, now=now, recipient=to
        )
        if not found:
            raise _missing(collection)
    ignored = [c.field for c in conditions]
    return Page(body, stored.total, page, pagesize, set_id, ignored)
