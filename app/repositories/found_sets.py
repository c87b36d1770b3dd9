"""Found sets: the keys a REST collection query matched (packed), kept so later pages come from
the same set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import FoundSet
from app.repositories import Record

FoundSetRow = Record


class FoundSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        set_id: str,
        owner_sub: str,
        scopes_key: str,
        resource: str,
        packed: bytes,
        total: int,
        beyond: dict[str, Any] | None,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        values = {
            "id": set_id,
            "owner_sub": owner_sub,
            "scopes_key": scopes_key,
            "resource": resource,
            "packed": packed,
            "total": total,
            "beyond": beyond,
            "created_at": created_at,
            "expires_at": expires_at,
        }
        await self.session.execute(insert(FoundSet).values(**values))

    async def by_id(self, set_id: str) -> FoundSetRow | None:
        stmt = select(
            FoundSet.id,
            FoundSet.owner_sub,
            FoundSet.scopes_key,
            FoundSet.resource,
            FoundSet.packed,
            FoundSet.total,
            FoundSet.beyond,
            FoundSet.expires_at,
        ).where(FoundSet.id == set_id)
        return (await self.session.execute(stmt)).first()

    async def purge_expired(self, now: datetime) -> None:
        await self.session.execute(delete(FoundSet).where(FoundSet.expires_at <= now))
