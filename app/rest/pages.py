"""A compat collection request, top to bottom: authenticate, read the filters and the page asked
for, get the page from the service (one statement), answer with paging and caching headers."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal
from app.domain.disclosures import Recipient
from app.rest import PREFIX
from app.rest.query import CollectionQuery, collection_query, header_list
from app.rest.responses import cached_body
from app.services import compat_reads
from app.services import disclosures as disclosures_service
from app.services.compat_reads import Collection, Page
from app.state import authenticate, request_id_of, spend, state_of


def recipient_of(request: Request, principal: Principal) -> Recipient | None:
    """Who a REST answer discloses to, through which route (`GET /api/students/{netid}`)."""
    route = request.scope.get("route")
    template = PREFIX + route.path if route is not None else request.url.path
    settings, request_id = state_of(request).settings, request_id_of(request)
    label = f"{request.method} {template}"
    return disclosures_service.recipient(settings, principal, request_id, label)


async def answer_collection(
    request: Request,
    collection: Collection,
    *,
    pagesize: int | None,
    page: int | None,
    continuation_key: str | None,
    max_age: int,
    aliases: Mapping[str, str] | None = None,
) -> Response:
    principal = await authenticate(request)
    state = state_of(request)
    query = collection_query(
        request,
        state.settings,
        pagesize=pagesize,
        page=page,
        continuation_key=continuation_key,
        aliases=aliases,
    )
    await spend(request, principal, query.pagesize)  # the rows it asks for, before any are read
    now, ttl = state.clock.now(), state.settings.found_set_ttl_seconds
    if query.continuation_key:
        # Keyword arguments, named as compat_reads names them (the same names recur in its reads).
        found = await compat_reads.later_page(
            state.engine,
            state.sessions,
            principal,
            collection,
            query.conditions,
            set_id=query.continuation_key,
            page=query.page,
            pagesize=query.pagesize,
            now=now,
            ttl_seconds=ttl,
            to=recipient_of(request, principal),
            replicas=state.replicas,
        )
    else:
        found = await compat_reads.first_page(
            state.engine,
            state.sessions,
            principal,
            collection,
            query.conditions,
            pagesize=query.pagesize,
            set_id=request_id_of(request),
            now=now,
            ttl_seconds=ttl,
            max_bytes=state.settings.found_set_max_bytes,
            to=recipient_of(request, principal),
            replicas=state.replicas,
        )
    headers = _paging_headers(request, query, found)
    return cached_body(request, found.body, max_age=max_age, headers=headers)


def _next_link(request: Request, found: Page) -> str:
    params = {"continuation_key": found.set_id, "page": found.page + 1, "pagesize": found.pagesize}
    return f'<{quote(request.url.path)}?{urlencode(params)}>; rel="next"'


def _paging_headers(request: Request, query: CollectionQuery, found: Page) -> dict[str, str]:
    """`X-Total-Count`, `Link: <...>; rel="next"`, `X-Ignored-Filters`, `X-Pagesize-Clamped`."""
    headers = {"X-Total-Count": str(found.total)}
    if found.set_id and found.has_next:
        headers["Link"] = _next_link(request, found)
    if found.ignored:
        headers["X-Ignored-Filters"] = header_list(found.ignored)
    if query.clamped:
        headers["X-Pagesize-Clamped"] = str(query.pagesize)
    return headers
