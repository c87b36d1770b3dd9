"""Persisted documents (automatic persisted queries and the safelist), shared by every API
process through the database. An id never changes its text, so a process may remember what it
has read (app/graphql/persisted.py does). The safelist is what the operator registered
(`studentgraph persisted add`); what callers persisted automatically is never on it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.persisted import PersistedQueryRepository


async def text_of(
    session: AsyncSession, query_id: str, *, safelisted_only: bool = False
) -> str | None:
    """The document stored under `query_id`; with `safelisted_only`, only one the operator
    registered (GRAPHQL_PERSISTED_ONLY runs nothing else)."""
    repository = PersistedQueryRepository(session)
    return await repository.text_by_id(query_id, safelisted_only=safelisted_only)


async def register_automatic(session: AsyncSession, query_id: str, text: str, maximum: int) -> bool:
    """Store a document a client sent with its hash (automatic persisted queries), unless the
    store already holds `maximum` documents: any caller can add one, so the store is bounded.
    Not stored, the document still runs; the client sends its text again next time."""
    repository = PersistedQueryRepository(session)
    if await repository.count(safelisted=False) >= maximum:
        return False
    await repository.add([(query_id, text)])
    return True


async def register(session: AsyncSession, documents: Sequence[tuple[str, str]]) -> int:
    """Put each `(id, text)` on the operator's safelist; the number of documents on it now."""
    repository = PersistedQueryRepository(session)
    await repository.add_safelisted(documents)
    return await repository.count(safelisted=True)
