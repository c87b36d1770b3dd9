"""What the running app holds (engine, sessions, schema, clock) and the request helpers both
adapters share: authentication and the request id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection, Request

from app.auth.principal import Principal
from app.auth.tokens import bearer_token, verify
from app.clock import Clock
from app.config import Settings
from app.errors import BadRequest


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    schema: strawberry.Schema
    clock: Clock


def state_of(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.studentgraph
    return state


def authenticate(connection: HTTPConnection) -> Principal:
    """The caller, from `Authorization: Bearer <jwt>`; `Unauthenticated` (401) otherwise."""
    token = bearer_token(connection.headers.get("authorization"))
    return verify(token, state_of(connection).settings)


def request_id_of(connection: HTTPConnection) -> str:
    return str(connection.scope.get("state", {}).get("request_id", ""))


def refuse_nul(value: Any, where: str) -> None:
    """No value this API takes can hold a NUL character, and PostgreSQL text cannot store one:
    refuse it at the edge as a bad request, before it reaches a query."""
    if _holds_nul(value):
        raise BadRequest(f"the {where} contains a NUL character (\\u0000)")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


async def refuse_nul_in_url(request: Request) -> None:
    """A router dependency: the path and query string are checked before any route runs (on
    the raw scope: the server has decoded the path; the query string is still %-encoded)."""
    if "\x00" in request.scope["path"]:
        raise BadRequest("the path contains a NUL character (\\u0000)")
    if b"%00" in request.scope.get("query_string", b""):
        raise BadRequest("the query string contains a NUL character (\\u0000)")
