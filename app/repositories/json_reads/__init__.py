"""Reads whose JSON the database builds: one statement answers a whole selection, its text
spliced into the response unparsed. See `objects` (types), `roots` (Query fields), `filters`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from app.caches import BoundedCache, memoized, text_bytes
from app.db import database_cause, fetch_row
from app.domain.disclosures import Disclosed, Recipient
from app.domain.filters import Condition
from app.errors import StatementTimeout
from app.replicas import PRIMARY, Replicas
from app.repositories import disclosures
from app.repositories.json_reads import rest
from app.repositories.json_reads.dialects import DIALECTS, ReplicaDialect
from app.repositories.json_reads.filters import Shape, bind, shape_of
from app.repositories.json_reads.objects import Pick, Unplannable, picks_bytes
from app.repositories.json_reads.rest import Listing
from app.repositories.json_reads.roots import (
    RECIPIENT_SLOTS,
    Compiled,
    RootQuery,
    RootRead,
    compile_data,
    prepare,
    signature,
)

__all__ = ["FirstPage", "JsonReads", "Listing", "Pick", "RootQuery", "Unplannable", "picks_bytes"]
MIB = 1024 * 1024
# Statements, compiled once per shape and held in bounded caches (app/caches.py). A statement's
# size is its SQL text and its slots; a planned one's key also holds the signature of its reads.
# A REST filter shape's (field, operator) pair counts as a slot.
SLOT_BYTES = 100
Statements = BoundedCache[tuple[Any, ...], Compiled]
PLANNED: Statements = BoundedCache("planned_statements", max_entries=1024, max_bytes=16 * MIB)
FIRST_PAGES: Statements = BoundedCache(
    "rest_first_page_statements", max_entries=256, max_bytes=4 * MIB
)
SINGLES: Statements = BoundedCache("rest_statements", max_entries=32, max_bytes=1 * MIB)
# The keys of a found set past those it keeps (a filter's shape, as FIRST_PAGES).
REST_KEYS: Statements = BoundedCache(
    "rest_found_set_statements", max_entries=256, max_bytes=4 * MIB
)


def _statement_bytes(compiled: Compiled, *_key: Any) -> int:
    return text_bytes(compiled.sql) + SLOT_BYTES * len(compiled.slots)


def _first_page_bytes(compiled: Compiled, _dialect: str, _kind: str, shape: Shape, *_: Any) -> int:
    return _statement_bytes(compiled) + SLOT_BYTES * len(shape)


def _compiled(
    dialect: str, reads: tuple[RootRead, ...], include_protected: bool, record: bool
) -> Compiled:
    """The statement of `reads`, cached by their signature (a string) rather than the reads."""
    key = (dialect, signature(reads), include_protected, record)
    found: Compiled | None = PLANNED.get(key)
    if found is None:
        found = compile_data(
            DIALECTS[dialect], reads, include_protected=include_protected, record=record
        )
        PLANNED.put(key, found, _statement_bytes(found) + text_bytes(key[1]))
    return found


@memoized(FIRST_PAGES, _first_page_bytes)
def _first_page(
    dialect: str, kind: str, shape: Shape, include_protected: bool, record: bool
) -> Compiled:
    listing = Listing(kind)
    return rest.first_page(
        DIALECTS[dialect], listing, shape, include_protected=include_protected, record=record
    )


@memoized(REST_KEYS, _first_page_bytes)
def _rest_keys(dialect: str, kind: str, shape: Shape, include_protected: bool) -> Compiled:
    return rest.rest_keys(
        DIALECTS[dialect], Listing(kind), shape, include_protected=include_protected
    )


@memoized(SINGLES, _statement_bytes)
def _single(dialect: str, what: str, include_protected: bool, record: bool) -> Compiled:
    if what == "student":
        return rest.student(DIALECTS[dialect], include_protected, record)
    if what == "plan":
        return rest.plan(DIALECTS[dialect], include_protected, record)
    listing = Listing(what.removeprefix("later:"))
    return rest.later_page(
        DIALECTS[dialect], listing, include_protected=include_protected, record=record
    )


@dataclass(frozen=True)
class FirstPage:
    found: bool  # the collection's student exists for the caller
    total: int
    body: bytes  # the first page, as JSON
    # When there is more than a page: the first matching keys, in order (rest.KEYS_READ of them
    # at most), and, for plans, the highest plan id (what bounds a query for the rest).
    keys: list[Any] | None
    bound: int | None = None


class JsonReads:
    """Planned reads on `engine` (the primary), or on one of `replicas` when one is usable: a
    replica's statement returns what it shows, recorded on the primary before it is returned
    (app/replicas.py). A replica whose read fails (it cannot be reached, cancels the read in a
    conflict with its recovery, or its connection broke as it went down) is skipped and the
    read runs on the primary; past the statement timeout it is not run again."""

    def __init__(self, engine: AsyncEngine, replicas: Replicas | None = None) -> None:
        self.engine = engine
        self.dialect = DIALECTS[engine.dialect.name]
        self.replicas = replicas

    async def data(
        self,
        queries: Sequence[RootQuery],
        *,
        include_protected: bool,
        now: datetime,
        recipient: Recipient | None = None,
    ) -> str:
        """The JSON text of `{"<key>": <root field's value>, ...}`, from one statement.
        `Invalid` for a filter value that does not fit; `Unplannable` for a selection these
        builders cannot build (the caller answers another way). With a `recipient`, the
        students shown are recorded as disclosed to it (`_run`)."""
        values: dict[str, Any] = {"now": self.dialect.instant(now)}
        reads = []
        for i, query in enumerate(queries):
            read, bound = prepare(i, query, self.dialect)
            reads.append(read)
            values.update(bound)
        record = recipient is not None
        row = await self._run(
            lambda d: _compiled(d, tuple(reads), include_protected, record), values, recipient, now
        )
        return str(row[0])

    # --- the REST compat reads ------------------------------------------------------------------

    async def _run(
        self,
        compile_for: Callable[[str], Compiled],
        values: dict[str, Any],
        recipient: Recipient | None,
        now: datetime,
    ) -> tuple[Any, ...]:
        """The row of the statement `compile_for` builds for a dialect's key. The students it
        shows are recorded as disclosed to `recipient` by the statement itself on PostgreSQL's
        primary; on SQLite or a replica it returns them as its last column and they are
        recorded here, on the primary, before the row is returned."""
        if recipient is not None:
            who = (
                recipient.sub,
                recipient.operation,
                recipient.scopes,
                recipient.request_id,
                recipient.count_threshold,
                recipient.synchronous_commit,
            )
            values.update(zip(RECIPIENT_SLOTS, who, strict=True))
        row, compiled = await self._fetch(compile_for, values)
        if compiled.disclosed != "returned":
            return row
        assert recipient is not None
        shown = Disclosed()
        for netid, record_types in orjson.loads(row[-1]):
            shown.add(netid, *record_types.split(","))
        await disclosures.record_now(self.engine, recipient, shown, now)
        return row[:-1]

    async def _fetch(
        self, compile_for: Callable[[str], Compiled], values: dict[str, Any]
    ) -> tuple[tuple[Any, ...], Compiled]:
        """The statement's row, from a usable replica or else the primary; the statement run."""
        replica = self.replicas.choose() if self.replicas is not None else None
        if replica is not None:
            compiled = compile_for(ReplicaDialect.key)
            try:
                row = await fetch_row(replica.engine, compiled.sql, compiled.params(values))
            except StatementTimeout:
                raise  # the primary would take as long: not run twice
            except Exception as exc:  # down, a recovery conflict, a broken connection
                replica.skip(f"a read failed: {database_cause(exc)}")
            else:
                Replicas.served(replica.name)
                return row, compiled
        compiled = compile_for(self.dialect.key)
        row = await fetch_row(self.engine, compiled.sql, compiled.params(values))
        if self.replicas is not None:
            Replicas.served(PRIMARY)
        return row, compiled

    async def one(
        self,
        what: str,
        key: Any,
        *,
        include_protected: bool,
        now: datetime,
        recipient: Recipient | None = None,
    ) -> bytes | None:
        """`student` (by netid) or `plan` (by id), in its REST shape; None when hidden/unknown."""
        record = recipient is not None
        slot = "netid" if what == "student" else "id"
        values = {slot: key, "now": self.dialect.instant(now)}
        (text,) = await self._run(
            lambda d: _single(d, what, include_protected, record), values, recipient, now
        )
        return None if text == "null" else str(text).encode()

    async def first_page(
        self,
        listing: Listing,
        netid: str | None,
        conditions: list[Condition],
        *,
        pagesize: int,
        include_protected: bool,
        now: datetime,
        recipient: Recipient | None = None,
    ) -> FirstPage:
        """`Invalid` naming each filter value that does not fit."""
        values = bind(listing.table, conditions, "filter", self.dialect)
        values.update(netid=netid, pagesize=pagesize, now=self.dialect.instant(now))
        shape = shape_of(listing.table, conditions)
        record = recipient is not None
        found, total, body, keys, bound = await self._run(
            lambda d: _first_page(d, listing.kind, shape, include_protected, record),
            values,
            recipient,
            now,
        )
        kept = orjson.loads(keys) if keys else None
        return FirstPage(bool(found), int(total), str(body).encode(), kept, bound)

    async def rest_keys(
        self,
        listing: Listing,
        netid: str | None,
        conditions: list[Condition],
        *,
        bound: int | None,
        offset: int,
        limit: int,
        include_protected: bool,
        now: datetime,
    ) -> list[Any]:
        """The keys from place `offset` of a collection under `conditions` (plans no newer than
        `bound`), `limit` of them: a found set's keys past those it kept."""
        shape = shape_of(listing.table, conditions)
        values = bind(listing.table, conditions, "filter", self.dialect)
        values.update(netid=netid, bound=bound, offset=offset, limit=limit)
        values["now"] = self.dialect.instant(now)
        (keys,), _ = await self._fetch(
            lambda d: _rest_keys(d, listing.kind, shape, include_protected), values
        )
        found: list[Any] = orjson.loads(keys)
        return found

    async def later_page(
        self,
        listing: Listing,
        netid: str | None,
        keys: list[Any],
        *,
        include_protected: bool,
        now: datetime,
        recipient: Recipient | None = None,
    ) -> tuple[bool, bytes]:
        """(the collection's student exists for the caller, the JSON of those keys' rows)."""
        what, record = f"later:{listing.kind}", recipient is not None
        values = {
            "netid": netid,
            "keys": self.dialect.list_param(keys),
            "now": self.dialect.instant(now),
        }
        found, body = await self._run(
            lambda d: _single(d, what, include_protected, record), values, recipient, now
        )
        return bool(found), str(body).encode()
