"""What the running app holds (engine, sessions, schema, clock) and the request helpers both
adapters share: authentication and the request id."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection, Request

from app.auth.cutoffs import Cutoffs
from app.auth.principal import Principal
from app.auth.tokens import bearer_token, verify
from app.clock import Clock
from app.config import Settings
from app.errors import BadRequest, Unauthenticated
from app.observability import RESPONSE_HEADERS
from app.ratelimit import Brakes, budget_headers
from app.replicas import Replicas

log = logging.getLogger("app")


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    schema: strawberry.Schema
    clock: Clock
    cutoffs: Cutoffs
    brakes: Brakes
    replicas: Replicas  # where planned reads run (none without DATABASE_REPLICA_URLS)


def state_of(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.studentgraph
    return state


async def authenticate(connection: HTTPConnection) -> Principal:
    """The caller, from `Authorization: Bearer <jwt>`; `Unauthenticated` (401) otherwise, and
    `RateLimited` (429) past the caller's rate."""
    state = state_of(connection)
    try:
        principal = await principal_of(state, connection.headers.getlist("authorization"))
    except Unauthenticated as exc:
        log_refusal(exc, request_id_of(connection))
        raise
    await state.brakes.request(principal.sub)
    return principal


async def principal_of(state: AppState, authorization: str | list[str] | None) -> Principal:
    """The caller of a bearer token, at every door (HTTP, WebSocket): a valid token of an
    account not cut off (`studentgraph account disable` / `revoke-tokens`)."""
    principal = await verify(bearer_token(authorization), state.settings)
    await state.cutoffs.check(principal)
    return principal


async def spend(connection: HTTPConnection, principal: Principal, cost: int) -> None:
    """`cost` drawn from the caller's budget before the database is asked (`RateLimited`, 429,
    past it); what is left goes out in the answer's headers, whatever the answer."""
    draw = await state_of(connection).brakes.spend(principal.sub, cost)
    if draw is not None:
        add_response_headers(connection, budget_headers(draw))


def add_response_headers(connection: HTTPConnection, headers: dict[str, str]) -> None:
    """Headers the answer to this request carries, whoever answers it (a route, an error
    handler): RequestContextMiddleware adds them to whatever response starts."""
    connection.scope.setdefault("state", {}).setdefault(RESPONSE_HEADERS, {}).update(headers)


def log_refusal(exc: Unauthenticated, request_id: str) -> None:
    """The client gets one fixed answer for every refused token; the log, which check failed."""
    log.info("refused a token", extra={"reason": exc.reason, "request_id": request_id})


def request_id_of(connection: HTTPConnection) -> str:
    return str(connection.scope.get("state", {}).get("request_id", ""))


MAX_JSON_DEPTH = 32  # no request this API takes nests deeper (a PATCH body: 3 levels)


_SURROGATE = re.compile("[\ud800-\udfff]")


def refuse_unstorable(value: Any, where: str) -> None:
    """No value this API takes can hold a NUL character, and PostgreSQL text cannot store one;
    nor a lone UTF-16 surrogate (`\\ud800`, which JSON can spell but UTF-8 cannot encode: no
    database driver takes it); nor is any nested more than MAX_JSON_DEPTH deep (900 levels once
    reached a RecursionError): refuse each at the edge as a bad request, before it reaches a
    query. Iterative, so the check itself cannot recurse too deep."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadRequest(f"the {where} contains a NUL character (\\u0000)")
            if not item.isascii() and _SURROGATE.search(item):
                raise BadRequest(f"the {where} contains a lone surrogate (\\ud800-\\udfff)")
            continue
        if isinstance(item, dict | list | tuple) and depth > MAX_JSON_DEPTH:
            raise BadRequest(f"the {where} nests JSON more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            pending.extend((k, depth) for k in item)
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            pending.extend((v, depth + 1) for v in item)


async def refuse_nul_in_url(request: Request) -> None:
    """A router dependency: the path and query string are checked before any route runs (on
    the raw scope: the server has decoded the path; the query string is still %-encoded)."""
    if "\x00" in request.scope["path"]:
        raise BadRequest("the path contains a NUL character (\\u0000)")
    if b"%00" in request.scope.get("query_string", b""):
        raise BadRequest("the query string contains a NUL character (\\u0000)")
