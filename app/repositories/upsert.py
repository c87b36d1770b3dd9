"""Portable bulk upsert: `INSERT ... ON CONFLICT` exists on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# Bound parameters per statement stay under SQLite's limit (32766) and asyncpg's (32767).
_MAX_PARAMS = 30000


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    update: bool = True,
) -> None:
    """Insert `rows`; on a primary-key clash update every other column (or leave the row)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    keys = [c.name for c in table.primary_key.columns]
    batch = max(1, _MAX_PARAMS // max(1, len(rows[0])))
    for start in range(0, len(rows), batch):
        stmt = insert(table).values(list(rows[start : start + batch]))
        if update:
            changed = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        await session.execute(stmt)
