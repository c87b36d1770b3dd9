"""Shared by the change feed's tests: a client of the test's app, loading documents, reading
the feed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from app.db import transaction
from app.services import importer

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
READER = (STUDENTS_READ,)
PRIVATE_READER = (STUDENTS_READ, PEOPLE_PRIVATE)


async def app_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def load_into(session: AsyncSession, raw: dict[str, Any], source: str = "load") -> None:
    document = importer.read_document(orjson.dumps(raw))
    await importer.load(session, document, now=NOW, source=source)


async def load(
    sessions: async_sessionmaker[AsyncSession], raw: dict[str, Any], source: str = "load"
) -> None:
    async with transaction(sessions) as session:
        await load_into(session, raw, source)


async def feed(
    client: httpx.AsyncClient, headers: dict[str, str], after: int = 0, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """One page of GET /api/changes: (entries, Changes-Next-After)."""
    response = await client.get("/api/changes", params={"after": after, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), int(response.headers["Changes-Next-After"])
