"""Retention: deleting what is past its keeping time, a batch per transaction (disclosure
records, finished tasks). The first run over years of rows must be neither one statement that
the statement timeout stops (every later run would try it again) nor one transaction that holds
the table's dead rows until it ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction

PRUNE_BATCH = 10_000  # rows deleted per transaction

# Deletes at most `limit` rows older than `before` in the session; how many it deleted.
DeleteBefore = Callable[[AsyncSession, datetime, int], Awaitable[int]]


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    retention_days: int,
    delete_before: DeleteBefore,
    batch: int = PRUNE_BATCH,
) -> int:
    """Delete what is older than `retention_days` (nothing when it is 0: kept forever), `batch`
    rows per transaction until a batch comes back short; how many were deleted in all."""
    if retention_days <= 0:
        return 0
    before = now - timedelta(days=retention_days)
    deleted = 0
    while True:
        async with transaction(sessions) as session:
            count = await delete_before(session, before, batch)
        deleted += count
        if count < batch:
            return deleted
