"""Collections with found-set paging, shared by every collection route.

A `Source` says how to find a collection's keys and how to load rows for some of them (both
through the services, which decide access). The first request finds every key and answers page 1;
`continuation_key` + `page` answer later pages from the stored keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal
from app.db import transaction
from app.rest.query import CollectionQuery, collection_query, header_list
from app.rest.responses import cached_json
from app.services import found_sets
from app.services.found_sets import FoundPage
from app.state import authenticate, request_id_of, state_of

KeysOf = Callable[[AsyncSession], Awaitable[list[Any]]]
RowsOf = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]


@dataclass(frozen=True)
class Source:
    resource: str  # found sets are bound to it: a key works only on the route that made it
    keys: KeysOf  # every key the query matches, in answer order
    rows: RowsOf  # rows for some keys, in any order
    key_of: Callable[[Any], Any]
    ignored: list[str]  # filter attributes this collection does not know


@dataclass(frozen=True)
class Collected:
    rows: list[Any]
    found: FoundPage
    ignored: list[str]


async def _found_page(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    query: CollectionQuery,
    source: Source,
) -> FoundPage:
    state = state_of(request)
    now, ttl = state.clock.now(), state.settings.found_set_ttl_seconds
    if query.continuation_key:
        return await found_sets.reopen_set(
            session,
            principal,
            set_id=query.continuation_key,
            resource=source.resource,
            page=query.page,
            pagesize=query.pagesize,
            now=now,
            ttl_seconds=ttl,
        )
    keys = await source.keys(session)
    return await found_sets.open_set(
        session,
        principal,
        set_id=request_id_of(request),
        resource=source.resource,
        keys=keys,
        pagesize=query.pagesize,
        now=now,
        ttl_seconds=ttl,
    )


async def collect(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    query: CollectionQuery,
    source: Source,
) -> Collected:
    """The requested page of the collection, rows in found-set order."""
    found = await _found_page(session, request, principal, query, source)
    loaded = await source.rows(session, found.keys) if found.keys else []
    by_key = {source.key_of(r): r for r in loaded}
    rows = [by_key[k] for k in found.keys if k in by_key]
    # On a later page the stored set decides; any filters sent with it are ignored.
    ignored = [c.field for c in query.conditions] if query.continuation_key else source.ignored
    return Collected(rows, found, ignored)


def _next_link(request: Request, found: FoundPage) -> str:
    params = {"continuation_key": found.set_id, "page": found.page + 1, "pagesize": found.pagesize}
    return f'<{quote(request.url.path)}?{urlencode(params)}>; rel="next"'


def collection_headers(
    request: Request, query: CollectionQuery, collected: Collected
) -> dict[str, str]:
    """`X-Total-Count`, `Link: <...>; rel="next"`, `X-Ignored-Filters`, `X-Pagesize-Clamped`."""
    found = collected.found
    headers = {"X-Total-Count": str(found.total)}
    if found.set_id and found.has_next:
        headers["Link"] = _next_link(request, found)
    if collected.ignored:
        headers["X-Ignored-Filters"] = header_list(collected.ignored)
    if query.clamped:
        headers["X-Pagesize-Clamped"] = str(query.pagesize)
    return headers


Serialize = Callable[[Any], dict[str, Any]]
SourceFor = Callable[
    [AsyncSession, Principal, CollectionQuery], Awaitable[tuple[Source, Serialize]]
]


async def answer_collection(
    request: Request,
    *,
    pagesize: int | None,
    page: int | None,
    continuation_key: str | None,
    max_age: int,
    source_for: SourceFor,
    aliases: Mapping[str, str] | None = None,
) -> Response:
    """One collection request, the same for every collection route: authenticate, read the
    filters and page, collect the page of the route's source in one unit of work, and answer it
    with the paging and caching headers."""
    principal = authenticate(request)
    state = state_of(request)
    query = collection_query(
        request,
        state.settings,
        pagesize=pagesize,
        page=page,
        continuation_key=continuation_key,
        aliases=aliases,
    )
    async with transaction(state.sessions) as session:
        source, serialize = await source_for(session, principal, query)
        collected = await collect(session, request, principal, query, source)
    body = [serialize(row) for row in collected.rows]
    headers = collection_headers(request, query, collected)
    return cached_json(request, body, max_age=max_age, headers=headers)
