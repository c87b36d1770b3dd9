"""Migration 0008 on data written before it (on SQLite and PostgreSQL): service accounts' stored
scopes brought to the known ones, each dropped scope reported."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.auth.scopes import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from app.config import Settings
from app.db import create_engine
from app.migrate import alembic_config, upgrade
from tests.conftest import BACKENDS, _admin, _admin_url

BEFORE = "0006"


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (migrations change the schema: no shared one)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    admin = _admin_url()
    name = f"sg_migration_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(Settings(database_url=url), url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def add_account(url: str, name: str, scopes: list[str]) -> None:
    sql(
        url,
        "INSERT INTO service_accounts (name, scopes, created_at) "
        "VALUES (:name, :scopes, '2026-11-30 00:00:00+00')",
        name=name,
        scopes=orjson.dumps(scopes).decode(),
    )


def scopes_of(url: str) -> dict[str, list[str]]:
    rows = sql(url, "SELECT name, scopes FROM service_accounts ORDER BY name")
    return {name: s if isinstance(s, list) else orjson.loads(s) for name, s in rows}


def test_scopes_not_known_are_dropped_and_reported(fresh_url, caplog):
    command.upgrade(alembic_config(fresh_url), BEFORE)
    joined = f"{STUDENTS_READ},{PEOPLE_PRIVATE}"
    add_account(fresh_url, "sneaky", [joined, STUDENTS_WRITE])
    add_account(fresh_url, "odd", ["urn:other:thing", STUDENTS_READ, STUDENTS_READ])
    add_account(fresh_url, "fine", [STUDENTS_READ, PEOPLE_PRIVATE])

    with caplog.at_level(logging.WARNING):
        upgrade(fresh_url)

    assert scopes_of(fresh_url) == {
        "fine": [STUDENTS_READ, PEOPLE_PRIVATE],
        "odd": [STUDENTS_READ],
        "sneaky": [STUDENTS_WRITE],
    }
    reported = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(reported) == 2
    assert "'sneaky'" in reported[0] or "'sneaky'" in reported[1]
    assert any(joined in line for line in reported)
    assert any("urn:other:thing" in line and "'odd'" in line for line in reported)
