"""`changes(after:, first:, filter:)`: the change feed as a connection (REST: GET /api/changes).
The subscription `recordsChanged` (app/graphql/subscriptions.py) sends the same entries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON

from app.errors import Invalid, Problem
from app.graphql.context import Info
from app.graphql.types.connections import Edge, _Connection, decode_cursor, encode_cursor
from app.graphql.types.connections import page_info as page_info_of
from app.services import changes as changes_service
from app.services.changes import Query

CURSOR_KIND = "Change"


@strawberry.enum(description="What kind of record an entry carries.")
class ChangeKind(Enum):
    STUDENT = strawberry.enum_value("student", description="A student, without its D-plans.")
    TERM = strawberry.enum_value("term", description="A student's term.")
    PLAN = strawberry.enum_value("plan", description="An academic plan.")
    DPLAN = strawberry.enum_value("dplan", description="A student's D-plan for one term.")


@strawberry.enum(description="What happened to the record.")
class ChangeOp(Enum):
    INSERT = strawberry.enum_value("insert", description="The record is new.")
    UPDATE = strawberry.enum_value("update", description="The record changed.")
    DELETE = strawberry.enum_value(
        "delete", description="The record is gone (`record` as it last was); no write deletes yet."
    )


@strawberry.type(description="One committed change to a record.")
class ChangeEntry:
    position: str = strawberry.field(
        description="Its place in the feed, a decimal integer (REST's `position`); positions "
        "only grow, with gaps."
    )
    committed_at: datetime = strawberry.field(description="When it was written.")
    kind: ChangeKind = strawberry.field(description="The kind of record.")
    key: str = strawberry.field(
        description="The record's key: a netid, a term id, a plan id, or `netid/term_code`."
    )
    netid: str = strawberry.field(description="The student the record belongs to.")
    op: ChangeOp = strawberry.field(description="Inserted, updated or deleted.")
    source: str = strawberry.field(
        description="What made it: `task <id>`, `load`, `demo` or `generate`."
    )
    record: JSON = strawberry.field(
        description="The record after the change, as its REST route answers it."
    )

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ChangeEntry:
        return cls(
            position=str(entry["position"]),
            committed_at=datetime.fromisoformat(entry["committed_at"].replace("Z", "+00:00")),
            kind=ChangeKind(entry["kind"]),
            key=entry["key"],
            netid=entry["netid"],
            op=ChangeOp(entry["op"]),
            source=entry["source"],
            record=entry["record"],
        )


@strawberry.input(description="Which entries; all when absent.")
class ChangeFilter:
    kind: ChangeKind | None = strawberry.field(default=None, description="Only this kind.")
    netid: str | None = strawberry.field(default=None, description="Only this student's.")


@strawberry.type(
    description="A page of the change feed. `pageInfo.endCursor` continues past entries you "
    "may not see as well: pass it as `after` next, even when the page is empty."
)
class ChangeConnection(_Connection[ChangeEntry]):
    pass


def cursor_of(position: int) -> str:
    return encode_cursor(CURSOR_KIND, str(position))


def position_of(cursor: str | None) -> int:
    """A cursor of this feed, or a position's digits (as REST's `Changes-Next-After`)."""
    if cursor is None:
        return 0
    if cursor.isdigit():
        return int(cursor)
    key = decode_cursor(CURSOR_KIND, cursor)
    if key is None or not key.isdigit():
        raise Invalid("bad cursor", [Problem("after", "is not a cursor from this connection")])
    return int(key)


def query_of(after: str | None, filter: ChangeFilter | None) -> Query:
    kind = str(filter.kind.value) if filter is not None and filter.kind is not None else None
    netid = filter.netid if filter is not None else None
    return Query(after=position_of(after), kind=kind, netid=netid)


async def resolve_changes(
    info: Info,
    after: Annotated[
        str | None,
        strawberry.argument(
            description="Entries after this cursor (an `endCursor`, an edge's `cursor`, or a "
            "position's digits); from the oldest kept when absent."
        ),
    ] = None,
    first: Annotated[
        int | None, strawberry.argument(description="At most this many (1 to 100; 20).")
    ] = None,
    filter: Annotated[
        ChangeFilter | None, strawberry.argument(description="Which entries.")
    ] = None,
) -> ChangeConnection:
    ctx = info.context
    query = query_of(after, filter)
    size = 20 if first is None else first
    if not 1 <= size <= ctx.settings.page_size_max:
        problem = Problem("first", f"must be from 1 to {ctx.settings.page_size_max}")
        raise Invalid("bad page size", [problem])
    page = await changes_service.page_in(ctx.session, ctx.principal, query, size)
    entries = [ChangeEntry.of(e) for e in orjson.loads(page.entries)]
    edges = [Edge(cursor=cursor_of(int(e.position)), node=e) for e in entries]
    info_ = page_info_of([e.cursor for e in edges], len(edges) == size, query.after > 0)
    info_.end_cursor = cursor_of(page.next_after)

    async def count() -> int:
        return await changes_service.remaining_in(ctx.session, ctx.principal, query)

    return ChangeConnection(
        _edges=edges,
        _page_info=info_,
        _shown=changes_service.shown_of(page),
        _count=count,
    )
