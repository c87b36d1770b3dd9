"""Migration 0007 (issue 19) on data written in the shapes before it, on both databases: a
database migrated to 0006, rows inserted as 0006 stored them, then `upgrade` (and back)."""

from __future__ import annotations

import asyncio
import json
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
from tests.cli.test_data import run_cli
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


OLD_RECORD = (
    "INSERT INTO disclosures (at, sub, netid, operation, record_types, scopes, request_id) "
    "VALUES ('{at}', '{sub}', '{netid}', 'query Page', '{types}', 'urn:a', '{request}')"
)


def _old(request: str, netid: str, types: str = "student", **kw: str) -> str:
    values = {"at": "2026-12-01 10:00:00", "sub": "registrar", **kw}
    return OLD_RECORD.format(request=request, netid=netid, types=types, **values)


def test_disclosure_records_become_one_per_request_and_record_types(blank_url):
    """A request's records per student (0006) become one per combination of record types,
    netids sorted; other requests, and another instant under one request id (a subscription's
    updates), stay apart. The audit finds each student's records; downgrading gives back the
    records per student."""
    migrate(blank_url, "0006")
    sql(
        blank_url,
        _old("r1", "b000002"),
        _old("r1", "a000001"),
        _old("r1", "c000003", "plans,student"),
        _old("r2", "a000001", sub="advisor"),
        _old("sub", "a000001", "tasks", at="2026-12-01 11:00:00"),
        _old("sub", "a000001", "tasks", at="2026-12-01 12:00:00"),
    )
    migrate(blank_url, "0007")
    (rows,) = sql(
        blank_url,
        "SELECT request_id, sub, record_types, netids FROM disclosures ORDER BY id",
    )
    as_lists = [(r, s, t, n if isinstance(n, list) else json.loads(n)) for r, s, t, n in rows]
    assert as_lists == [
        ("r1", "registrar", "student", ["a000001", "b000002"]),
        ("r1", "registrar", "plans,student", ["c000003"]),
        ("r2", "advisor", "student", ["a000001"]),
        ("sub", "registrar", "tasks", ["a000001"]),
        ("sub", "registrar", "tasks", ["a000001"]),
    ]
    audited = run_cli("audit", "--netid", "a000001", "--json", url=blank_url)
    assert audited.returncode == 0, audited.stderr
    found = [json.loads(line)["request_id"] for line in audited.stdout.splitlines()]
    assert found == ["sub", "sub", "r2", "r1"]  # newest first, then the later record

    migrate(blank_url, "0006", down=True)
    (back,) = sql(blank_url, "SELECT request_id, netid, record_types FROM disclosures ORDER BY id")
    assert sorted(back) == sorted(
        [
            ("r1", "a000001", "student"),
            ("r1", "b000002", "student"),
            ("r1", "c000003", "plans,student"),
            ("r2", "a000001", "student"),
            ("sub", "a000001", "tasks"),
            ("sub", "a000001", "tasks"),
        ]
    )
