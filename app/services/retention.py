"""Retention: deleting what is past its keeping time, a batch per transaction (disclosure
records, finished tasks). The first run over years of rows must be neither one statement that
the statement timeout stops (every later run would try it again) nor one transaction that holds
the table's dead rows until it ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction

PRUNE_BATCH = 10_000  # rows deleted per transaction

DeleteBatch = Callable[[AsyncSession, int], Awaitable[int]]


async def delete_in_batches(
    sessions: async_sessionmaker[AsyncSession], delete: DeleteBatch, batch: int = PRUNE_BATCH
) -> int:
    """Run `delete(session, batch)` (which deletes at most `batch` rows and says how many) in a
    transaction of its own until a batch comes back short; how many were deleted in all."""
    deleted = 0
    while True:
        async with transaction(sessions) as session:
            count = await delete(session, batch)
        deleted += count
        if count < batch:
            return deleted
