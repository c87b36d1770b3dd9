"""Persisted GraphQL documents: read by id, added once (an id never changes its text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import PersistedQuery
from app.repositories.upsert import dialect_insert, upsert


class PersistedQueryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def text_by_id(self, query_id: str, *, safelisted_only: bool = False) -> str | None:
        stmt = select(PersistedQuery.query).where(PersistedQuery.id == query_id)
        if safelisted_only:
            stmt = stmt.where(PersistedQuery.safelisted.is_(True))
        text: str | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return text

    async def add(self, documents: Sequence[tuple[str, str]]) -> None:
        """Store each `(id, text)` a caller persisted; an id already stored keeps its text and
        its standing (two processes registering one document at once both succeed)."""
        now = datetime.now(UTC)
        rows = [{"id": i, "query": text, "created_at": now} for i, text in documents]
        await upsert(self.session, PersistedQuery.__table__, rows, update=False)  # type: ignore[arg-type]

    async def add_safelisted(self, documents: Sequence[tuple[str, str]]) -> None:
        """Store each `(id, text)` on the operator's safelist; an id a caller persisted before
        joins it, with the operator's text (the operator's word is the one that counts)."""
        if not documents:
            return
        now = datetime.now(UTC)
        rows = [
            {"id": i, "query": text, "created_at": now, "safelisted": True} for i, text in documents
        ]
        stmt = dialect_insert(self.session, PersistedQuery)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={"query": stmt.excluded.query, "safelisted": True}
        )
        await self.session.execute(stmt, rows)

    async def count(self, *, safelisted: bool | None = None) -> int:
        """How many documents are stored (only those on, or off, the safelist if asked)."""
        stmt = select(func.count()).select_from(PersistedQuery)
        if safelisted is not None:
            stmt = stmt.where(PersistedQuery.safelisted.is_(safelisted))
        return int((await self.session.execute(stmt)).scalar_one())
