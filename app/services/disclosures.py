"""Disclosure records: who receives a request's disclosures, writing what it showed before the
answer leaves, listing them for an audit, and deleting them past their retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import Principal
from app.config import Settings
from app.domain.disclosures import Disclosed, Recipient
from app.repositories import Record
from app.repositories import disclosures as disclosures_repo
from app.repositories.disclosures import DisclosureRepository
from app.services import retention
from app.services.retention import PRUNE_BATCH

AUDIT_LIMIT = 1000


def recipient(
    settings: Settings, principal: Principal, request_id: str, operation: str
) -> Recipient | None:
    """Who a request discloses to; None when records are off (`DISCLOSURE_RECORDS`)."""
    if not settings.disclosure_records:
        return None
    scopes = " ".join(principal.scope_order or sorted(principal.scopes))
    return Recipient(
        principal.sub,
        scopes,
        request_id[:64],
        operation[:200],
        settings.disclosure_count_threshold,
        "off" if settings.disclosure_durability == "commit" else None,
    )


async def record(
    engine: AsyncEngine, to: Recipient | None, shown: Disclosed, now: datetime
) -> None:
    """Write what a request showed, durably, before its answer leaves (one statement)."""
    if to is not None and shown:
        await disclosures_repo.record_now(engine, to, shown, now)


async def record_in(
    session: AsyncSession, to: Recipient | None, shown: Disclosed, now: datetime
) -> None:
    """The same, in the session's unit of work (committed with it, before the answer)."""
    if to is not None and shown:
        await DisclosureRepository(session).add_shown(to, shown, now)


async def audit(
    session: AsyncSession,
    netid: str,
    *,
    since: datetime | None = None,
    sub: str | None = None,
    limit: int = AUDIT_LIMIT,
) -> list[Record]:
    """A student's disclosure records, newest first."""
    return await DisclosureRepository(session).of_student(netid, since=since, sub=sub, limit=limit)


# Alike app.services.tasks.prune: the worker calls each retention's prune the same way;
# what they share is app.services.retention.prune, and each names only its own delete.
async def prune(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    retention_days: int,
    *,
    batch: int = PRUNE_BATCH,
) -> int:
    """Delete records older than the retention (none when it is 0: kept forever), `batch` per
    transaction (app.services.retention)."""

    async def delete(session: AsyncSession, before: datetime, limit: int) -> int:
        return await DisclosureRepository(session).delete_before(before, limit=limit)

    return await retention.prune(sessions, now, retention_days, delete, batch)
