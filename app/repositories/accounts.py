"""Service accounts and API keys: their rows, and the one lookup a key exchange needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.models import ApiKey, ServiceAccount
from app.repositories import Record
from app.repositories.upsert import dialect_insert

ACCOUNT_COLUMNS = (
    ServiceAccount.name,
    ServiceAccount.scopes,
    ServiceAccount.created_at,
    ServiceAccount.disabled_at,
    ServiceAccount.tokens_not_before,
)
KEY_COLUMNS = (
    ApiKey.id,
    ApiKey.account_name,
    ApiKey.note,
    ApiKey.created_at,
    ApiKey.expires_at,
    ApiKey.last_used_at,
    ApiKey.revoked_at,
)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, name: str, scopes: list[str], now: datetime) -> bool:
        """False when an account of that name exists (two creating it at once included)."""
        values = {"name": name, "scopes": scopes, "created_at": now}
        stmt = dialect_insert(self.session, ServiceAccount)
        stmt = stmt.values(values).on_conflict_do_nothing(index_elements=["name"])
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def by_name(self, name: str, *, for_update: bool = False) -> Record | None:
        """`for_update`: the row stays locked until the transaction ends, so a change computed
        from it (grant, revoke) is not lost to another made meanwhile (PostgreSQL; SQLite has
        one writer at a time)."""
        stmt = select(*ACCOUNT_COLUMNS).where(ServiceAccount.name == name)
        rows = await fetch_all(self.session, stmt.with_for_update() if for_update else stmt)
        return rows[0] if rows else None

    async def all(self) -> list[Record]:
        return await fetch_all(self.session, select(*ACCOUNT_COLUMNS).order_by(ServiceAccount.name))

    async def set_scopes(self, name: str, scopes: list[str]) -> None:
        await self.update(name, scopes=scopes)

    async def update(self, name: str, **values: Any) -> bool:
        """False when there is no such account."""
        stmt = update(ServiceAccount).where(ServiceAccount.name == name).values(values)
        return bool(getattr(await self.session.execute(stmt), "rowcount", 0))

    async def cut_off(self) -> list[Record]:
        """The accounts disabled or with a tokens-not-before time: each process's table of
        cut-offs (app/auth/cutoffs.py) is this, read every ACCOUNT_CUTOFF_REFRESH_SECONDS."""
        stmt = select(
            ServiceAccount.name, ServiceAccount.disabled_at, ServiceAccount.tokens_not_before
        ).where(
            or_(
                ServiceAccount.disabled_at.is_not(None),
                ServiceAccount.tokens_not_before.is_not(None),
            )
        )
        return await fetch_all(self.session, stmt)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(ApiKey).values(values))

    async def for_exchange(self, key_id: str) -> Record | None:
        """The key's hash, validity and its account's scopes, in one statement."""
        stmt = (
            select(
                ApiKey.key_hash,
                ApiKey.expires_at,
                ApiKey.revoked_at,
                ApiKey.account_name,
                ServiceAccount.scopes,
                ServiceAccount.disabled_at,
            )
            .join(ServiceAccount, ServiceAccount.name == ApiKey.account_name)
            .where(ApiKey.id == key_id)
        )
        rows = await fetch_all(self.session, stmt)
        return rows[0] if rows else None

    async def listed(self, account_name: str | None = None) -> list[Record]:
        stmt = select(*KEY_COLUMNS).order_by(ApiKey.account_name, ApiKey.created_at, ApiKey.id)
        if account_name is not None:
            stmt = stmt.where(ApiKey.account_name == account_name)
        return await fetch_all(self.session, stmt)

    async def mark_used(self, key_id: str, now: datetime) -> None:
        await self.session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now)
        )

    async def revoke(self, key_id: str, now: datetime) -> bool:
        """Revoke a key not already revoked; False when there is no such key to revoke."""
        stmt = (
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(ApiKey.id)
        )
        return (await self.session.execute(stmt)).first() is not None
