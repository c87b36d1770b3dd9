"""Portable bulk upsert: `INSERT ... ON CONFLICT` exists on both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# Rows per executemany call: bounds the driver's buffers, not a parameter limit.
BATCH = 5_000


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """The database's own `INSERT` for `table` (a Table or a mapped class), which has
    `on_conflict_do_nothing`/`on_conflict_do_update`."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    update: bool = True,
) -> None:
    """Insert `rows` (each with the same columns); on a primary-key clash replace every other
    column, or with `update=False` leave the stored row as it is.

    One statement run as an executemany over batches: it is compiled once, where a multi-row
    VALUES statement is compiled per batch, which costs about seven times as much at
    `generate` scale (measured on both databases)."""
    if not rows:
        return
    stmt = dialect_insert(session, table)
    keys = [c.name for c in table.primary_key.columns]
    if update:
        changed = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    for start in range(0, len(rows), BATCH):
        await session.execute(stmt, list(rows[start : start + BATCH]))
