"""The typed context of one GraphQL operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info as StrawberryInfo

from app.auth import Principal
from app.auth.scopes import sees_protected
from app.config import Settings
from app.domain.disclosures import Disclosed
from app.graphql.loaders import Loaders
from app.services import reference as reference_service

N = TypeVar("N")


@dataclass
class Context:
    session: AsyncSession
    principal: Principal
    settings: Settings
    now: datetime  # one instant per operation, so every computed field agrees
    loaders: Loaders
    request_id: str = ""
    # What the answer shows of which students (recorded before it leaves: app/graphql/http.py).
    disclosed: Disclosed = field(default_factory=Disclosed)
    _current_term: asyncio.Task[str | None] | None = None

    async def current_term_id(self) -> str | None:
        """The quarterly term holding `now`, looked up once per operation."""
        if self._current_term is None:
            self._current_term = asyncio.ensure_future(
                reference_service.current_term_id(self.session, self.now)
            )
        return await self._current_term


def build_context(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    now: datetime,
    request_id: str = "",
) -> Context:
    loaders = Loaders(session, include_protected=sees_protected(principal))
    return Context(session, principal, settings, now, loaders, request_id)


Info = StrawberryInfo[Context, None]

Find = Callable[[AsyncSession, Principal, str], Awaitable[Any]]
Build = Callable[[Any, Disclosed], N]


async def found_nodes(
    info: Info, node_ids: Iterable[str], find: Find, build: Build[N]
) -> list[N | None]:
    """`Node.resolve_nodes` for every node type: each id through its service's `find_*`
    (which decides access: an id the caller may not see is None, as an unknown one)."""
    ctx = info.context
    rows = [await find(ctx.session, ctx.principal, node_id) for node_id in node_ids]
    return [build(row, ctx.disclosed) if row is not None else None for row in rows]
