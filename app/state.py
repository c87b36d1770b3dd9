"""What the running app holds (engine, sessions, schema, clock) and the request helpers both
adapters share: authentication and the request id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from app.auth.principal import Principal
from app.auth.tokens import bearer_token, verify
from app.clock import Clock
from app.config import Settings


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    schema: strawberry.Schema
    clock: Clock
    extra: dict[str, Any]


def state_of(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.studentgraph
    return state


def authenticate(connection: HTTPConnection) -> Principal:
    """The caller, from `Authorization: Bearer <jwt>`; `Unauthenticated` (401) otherwise."""
    token = bearer_token(connection.headers.get("authorization"))
    return verify(token, state_of(connection).settings)


def request_id_of(connection: HTTPConnection) -> str:
    return str(connection.scope.get("state", {}).get("request_id", ""))
