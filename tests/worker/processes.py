"""Real worker processes (`python -m app worker`) for the guarantees' tests, and ways to watch
the database while they run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Task

ROOT = Path(__file__).resolve().parents[2]

POSTGRES_ONLY = (
    "real worker processes, SKIP LOCKED and LISTEN/NOTIFY: PostgreSQL only (the SQLite default "
    "runs a single in-process claimer; set TEST_DATABASE_URL)"
)


def skip_unless_postgres(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip(POSTGRES_ONLY)


# Short leases and backoffs keep these tests quick; each test adds what it exercises.
BASE_ENV = {
    "ENVIRONMENT": "test",
    "LOG_LEVEL": os.environ.get("TEST_WORKER_LOG_LEVEL", "WARNING"),
    "WORKER_LEASE_SECONDS": "2",
    "WORKER_POLL_SECONDS": "1",
    "WORKER_BACKOFF_BASE_SECONDS": "0.1",
}


class WorkerProcess:
    def __init__(self, database_url: str, concurrency: int = 1, **settings: Any) -> None:
        env = {**os.environ, **BASE_ENV, "DATABASE_URL": database_url}
        env.update({k.upper(): str(v) for k, v in settings.items()})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--concurrency", str(concurrency)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("TEST_WORKER_LOG_LEVEL") else subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def owns(self, lease_owner: str | None) -> bool:
        """Whether a task's lease owner names this process (`host:pid:nonce/slot`)."""
        return lease_owner is not None and lease_owner.split(":")[1] == str(self.pid)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def eventually(
    check: Callable[[], Awaitable[Any]], seconds: float = 30.0, every: float = 0.05
) -> Any:
    """Retry `check` until it returns something truthy; fail after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(every)


async def tasks(sessions: async_sessionmaker[AsyncSession]) -> list[Task]:
    async with sessions() as session:
        return list((await session.execute(select(Task).order_by(Task.id))).scalars())


async def all_finished(sessions: async_sessionmaker[AsyncSession]) -> list[Task] | None:
    rows = await tasks(sessions)
    return rows if rows and all(t.status in ("complete", "error") for t in rows) else None


APPLY_LOG_DDL = [
    "CREATE TABLE apply_log (seq bigserial PRIMARY KEY, netid text, term_code text, "
    "task_id text, at timestamptz DEFAULT clock_timestamp())",
    "CREATE FUNCTION log_apply() RETURNS trigger AS $$ BEGIN "
    "INSERT INTO apply_log (netid, term_code, task_id) VALUES (NEW.netid, NEW.term_code, "
    "NEW.task_id); RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER student_dplans_apply_log AFTER INSERT OR UPDATE ON student_dplans "
    "FOR EACH ROW EXECUTE FUNCTION log_apply()",
]
APPLY_LOG_DROP = [
    "DROP TRIGGER IF EXISTS student_dplans_apply_log ON student_dplans",
    "DROP FUNCTION IF EXISTS log_apply()",
    "DROP TABLE IF EXISTS apply_log",
]


async def install_apply_log(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Record every committed write of a D-plan row (a rolled-back apply leaves no entry)."""
    async with sessions() as session, session.begin():
        for statement in APPLY_LOG_DROP + APPLY_LOG_DDL:
            await session.execute(text(statement))


async def drop_apply_log(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        for statement in APPLY_LOG_DROP:
            await session.execute(text(statement))


async def apply_log(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with sessions() as session:
        stmt = text("SELECT netid, term_code, task_id, at FROM apply_log ORDER BY seq")
        return list((await session.execute(stmt)).all())


async def uncommitted_dplan_writes(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many open transactions hold a write lock on student_dplans (made, not committed)."""
    stmt = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'student_dplans' AND l.mode = 'RowExclusiveLock' "
        "AND l.pid <> pg_backend_pid() "
        # This database's: other xdist workers' databases on the server have their student_dplans
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    async with sessions() as session:
        return int((await session.execute(stmt)).scalar_one())


async def listeners(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many connections are LISTENing for new tasks (the last of a listener's channels is
    what pg_stat_activity shows: the tasks' or the change feed's)."""
    stmt = text(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %studentgraph_%' "
        "AND datname = current_database()"  # not other xdist workers' listeners
    )
    async with sessions() as session:
        return int((await session.execute(stmt)).scalar_one())
