"""Migration 0008 on data written before it (on SQLite and PostgreSQL): service accounts' stored
scopes brought to the known ones, each dropped scope reported; the tasks they requested moved to
their `svc:` subjects; an account whose name cannot take the prefix disabled."""

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


def add_task(url: str, task_id: str, sub: str) -> None:
    requester = {"sub": sub, "name": sub, "email": None, "scope": STUDENTS_WRITE}
    sql(
        url,
        "INSERT INTO tasks (id, resource, action, resource_id, payload, requester, requester_sub,"
        " status, request_date, attempts, available_at) VALUES (:id, 'students', 'PATCH',"
        " 'f000abc', '{}', :requester, :sub, 'complete', '2026-11-30 00:00:00+00', 1,"
        " '2026-11-30 00:00:00+00')",
        id=task_id,
        requester=orjson.dumps(requester).decode(),
        sub=sub,
    )


def test_tasks_move_to_service_subjects_and_long_names_are_disabled(fresh_url, caplog):
    command.upgrade(alembic_config(fresh_url), BEFORE)
    long_name = "n" * 125
    for name in ("f003ghc", "registrar-tool", long_name):
        add_account(fresh_url, name, [STUDENTS_WRITE])
    for task_id, sub in (
        ("1" * 24, "f003ghc"),
        ("2" * 24, "registrar-tool"),
        ("3" * 24, "f000xyz"),
    ):
        add_task(fresh_url, task_id, sub)
    add_task(fresh_url, "4" * 24, long_name)

    with caplog.at_level(logging.WARNING):
        upgrade(fresh_url)

    rows = sql(fresh_url, "SELECT id, requester_sub, requester FROM tasks ORDER BY id")
    moved = {
        i[0]: (sub, (r if isinstance(r, dict) else orjson.loads(r))["sub"]) for i, sub, r in rows
    }
    assert moved == {
        "1": ("svc:f003ghc", "svc:f003ghc"),
        "2": ("svc:registrar-tool", "svc:registrar-tool"),
        "3": ("f000xyz", "f000xyz"),  # a person's
        "4": (long_name, long_name),  # cannot take the prefix (128 characters): left, disabled
    }
    disabled = sql(fresh_url, "SELECT name FROM service_accounts WHERE disabled_at IS NOT NULL")
    assert disabled == [(long_name,)]
    assert any("disabled" in r.getMessage() and long_name in r.getMessage() for r in caplog.records)
