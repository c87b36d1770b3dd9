"""PostgreSQL settings this application depends on that live on the server: behind a transaction
pooler the statement timeout can ride neither the connection's startup (PgBouncer refuses the
parameter) nor a `SET` (the next transaction may run on another server connection), so it is
the default of DATABASE_URL's role in its database, which every server session opened from then
on takes (docs/operations/pgbouncer.md)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def set_role_statement_timeout(engine: AsyncEngine, milliseconds: int) -> None:
    """`ALTER ROLE CURRENT_USER IN DATABASE <this one> SET statement_timeout` (0: none). A role
    may set its own defaults; no other role's sessions change."""
    statement = (  # ALTER ROLE takes no parameters: `milliseconds` is formatted as an int
        "DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I "
        f"SET statement_timeout = {int(milliseconds)}', current_database()); END $$"
    )
    async with engine.begin() as connection:
        await connection.execute(text(statement))


async def statement_timeout(engine: AsyncEngine) -> int:
    """The statement timeout a session of `engine` runs under, in milliseconds (0: none)."""
    query = text("SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'")
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


class ReadOnly(Exception):
    """The database answers but refuses writes: a hot standby (a replica, or a primary demoted
    by a failover), or `default_transaction_read_only` on."""


async def check_accepts_writes(connection: AsyncConnection) -> None:
    """`ReadOnly` unless a transaction of `connection` may write: PostgreSQL's
    `transaction_read_only`, on for a hot standby and under `default_transaction_read_only`
    alike (so a DATABASE_URL pointing at a replica, or through a pooler at one, is no primary).
    SQLite always writes."""
    if connection.dialect.name != "postgresql":
        await connection.execute(text("SELECT 1"))
        return
    read_only = (await connection.execute(text("SHOW transaction_read_only"))).scalar_one()
    if read_only != "off":
        raise ReadOnly("the database is read-only (a replica, or default_transaction_read_only)")
