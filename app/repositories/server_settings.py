"""PostgreSQL settings this application depends on that live on the server: behind a transaction
pooler the statement timeout can ride neither the connection's startup (PgBouncer refuses the
parameter) nor a `SET` (the next transaction may run on another server connection), so it is
the default of DATABASE_URL's role in its database, which every server session opened from then
on takes (docs/operations/pgbouncer.md)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


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
