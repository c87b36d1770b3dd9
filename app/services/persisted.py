"""Persisted documents (automatic persisted queries and the safelist), shared by every API
process through the database. An id never changes its text, so a process may remember what it
has read (app/graphql/persisted.py does)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.persisted import PersistedQueryRepository


async def text_of(session: AsyncSession, query_id: str) -> str | None:
    return await PersistedQueryRepository(session).text_by_id(query_id)


async def register_automatic(session: AsyncSession, query_id: str, text: str, maximum: int) -> bool:
    """Store a document a client sent with its hash (automatic persisted queries), unless the
    store already holds `maximum` documents: any caller can add one, so the store is bounded.
    Not stored, the document still runs; the client sends its text again next time."""
    repository = PersistedQueryRepository(session)
    if await repository.count() >= maximum:
        return False
    await repository.add([(query_id, text)])
    return True


async def register(session: AsyncSession, documents: Sequence[tuple[str, str]]) -> int:
    """Store each `(id, text)` not stored yet; the number of documents now persisted."""
    repository = PersistedQueryRepository(session)
    await repository.add(documents)
    return await repository.count()
