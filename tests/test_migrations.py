"""Migration 0007 (issue 19) on data written in the shapes before it, on both databases: a
database migrated to 0006, rows inserted as 0006 stored them, then `upgrade` (and back)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_engine
from app.migrate import alembic_config
from tests.conftest import BACKENDS, _admin, _admin_url


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (migrations are run on it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrating.db'}"
        return
    admin = _admin_url()
    name = f"sg_migrate_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    config = alembic_config(url)
    (command.downgrade if down else command.upgrade)(config, revision)


def sql(url: str, *statements: str) -> list[list[Any]]:
    """Run each statement in one transaction; the rows of each (empty for a write)."""

    async def run() -> list[list[Any]]:
        engine = create_engine(Settings(database_url=url, environment="test"))
        try:
            async with engine.begin() as connection:
                out = []
                for statement in statements:
                    result = await connection.execute(text(statement))
                    out.append([tuple(r) for r in result] if result.returns_rows else [])
                return out
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_persisted_documents_stored_before_are_not_on_the_safelist(blank_url):
    """The table could not tell the operator's documents from callers': all are taken as a
    caller's (the safe side); `persisted add` puts the operator's back."""
    migrate(blank_url, "0006")
    sql(
        blank_url,
        "INSERT INTO persisted_queries (id, query, created_at) "
        "VALUES ('a', '{ dplanCodes { id } }', '2026-12-01 00:00:00')",
    )
    migrate(blank_url, "0007")
    assert sql(blank_url, "SELECT id, safelisted FROM persisted_queries")[0] == [("a", False)]
    migrate(blank_url, "0006", down=True)
    assert sql(blank_url, "SELECT id FROM persisted_queries")[0] == [("a",)]
