"""Relay connections with `totalCount`, keyset-paged by primary key behind opaque cursors."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import strawberry
from strawberry.relay import PageInfo

from app.domain.disclosures import Disclosed
from app.errors import Invalid, Problem
from app.graphql.context import Info
from app.graphql.types.plan import AcademicPlan
from app.graphql.types.student import Student

T = TypeVar("T")


def encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None, argument: str = "after") -> str | None:
    if cursor is None:
        return None
    try:
        prefix, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        prefix, key = "", ""
    if prefix != kind or not key or not key.isprintable():
        problem = Problem(argument, "is not a cursor from this connection")
        raise Invalid("bad cursor", [problem])
    return key


@strawberry.type(description="An edge: a cursor and the item it points at.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        description="Pass as `after` to continue after this item, or as `before` to page back "
        "from it (in the same `orderBy`)."
    )
    node: T = strawberry.field(description="The item.")


@strawberry.type
class _Connection(Generic[T]):
    """The page's students count as shown (disclosed) once its edges or page info (whose
    cursors name them) are in the answer; `totalCount` shows none of the page, and discloses
    the students a count could identify (app.graphql.schema._count)."""

    _edges: strawberry.Private[list[Edge[T]]]
    _page_info: strawberry.Private[PageInfo]
    _shown: strawberry.Private[Disclosed]
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The items of this page.")
    def edges(self, info: Info) -> list[Edge[T]]:
        info.context.disclosed.merge(self._shown)
        return self._edges

    @strawberry.field(description="Where this page sits in the list.")
    def page_info(self, info: Info) -> PageInfo:
        info.context.disclosed.merge(self._shown)
        return self._page_info

    @strawberry.field(description="How many items match the filter, over all pages.")
    async def total_count(self) -> int:
        return await self._count()


def page_info(cursors: Sequence[str], has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type(description="A page of students.")
class StudentConnection(_Connection[Student]):
    pass


@strawberry.type(description="A page of academic plans.")
class AcademicPlanConnection(_Connection[AcademicPlan]):
    pass
