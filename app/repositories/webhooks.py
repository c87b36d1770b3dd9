"""Webhooks' rows: created, listed, paused and resumed by the CLI; claimed under a lease,
advanced and failed by the workers that deliver them (app/services/webhooks.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.models import Webhook
from app.repositories import Record

COLUMNS = tuple(Webhook.__table__.columns)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> int:
        result = await self.session.execute(insert(Webhook).values(values).returning(Webhook.id))
        return int(result.scalar_one())

    async def all(self) -> list[Record]:
        return await fetch_all(self.session, select(*COLUMNS).order_by(Webhook.id))

    async def by_id(self, webhook_id: int) -> Record | None:
        rows = await fetch_all(self.session, select(*COLUMNS).where(Webhook.id == webhook_id))
        return rows[0] if rows else None

    async def update(self, webhook_id: int, **values: Any) -> bool:
        result = await self.session.execute(
            update(Webhook).where(Webhook.id == webhook_id).values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def delete(self, webhook_id: int) -> bool:
        result = await self.session.execute(delete(Webhook).where(Webhook.id == webhook_id))
        return bool(getattr(result, "rowcount", 0))

    async def claim_due(self, owner: str, now: datetime, lease: timedelta) -> list[Record]:
        """Take a lease on every active webhook due now whose lease is free or ran out."""
        free = or_(Webhook.lease_until.is_(None), Webhook.lease_until < now)
        stmt = (
            update(Webhook)
            .where(Webhook.state == "active", Webhook.next_attempt_at <= now, free)
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(*COLUMNS)
        )
        return list((await self.session.execute(stmt)).all())

    async def next_due(self) -> datetime | None:
        stmt = select(Webhook.next_attempt_at).where(Webhook.state == "active")
        stmt = stmt.order_by(Webhook.next_attempt_at).limit(1)
        return (await self.session.execute(stmt)).scalar()

    async def held(self, webhook_id: int, owner: str, **values: Any) -> bool:
        """Update a webhook only while `owner` holds its lease; whether it did."""
        stmt = (
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.lease_owner == owner)
            .values(**values)
        )
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))
