"""Persisted GraphQL documents: read by id, added once (an id never changes its text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import PersistedQuery
from app.repositories.upsert import upsert


class PersistedQueryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def text_by_id(self, query_id: str) -> str | None:
        stmt = select(PersistedQuery.query).where(PersistedQuery.id == query_id)
        text: str | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return text

    async def add(self, documents: Sequence[tuple[str, str]]) -> None:
        """Store each `(id, text)`; an id already stored keeps its text (two processes
        registering one document at once both succeed)."""
        now = datetime.now(UTC)
        rows = [{"id": i, "query": text, "created_at": now} for i, text in documents]
        await upsert(self.session, PersistedQuery.__table__, rows, update=False)  # type: ignore[arg-type]

    async def count(self) -> int:
        stmt = select(func.count()).select_from(PersistedQuery)
        return int((await self.session.execute(stmt)).scalar_one())
