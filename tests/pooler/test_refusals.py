"""What a pooler says, heard right (docs/operations/pgbouncer.md). PgBouncer sends every error with
SQLSTATE 08P01, which asyncpg raises as a connection error: a refusal (here, the statement
timeout sent as a startup parameter, as DATABASE_POOLER=none does) is a misconfiguration no
retry mends, so it is a 500 whose log line says what the pooler said, `ready` and the worker
say it in one line, and /readyz's log line names it; a pooler that says the server is busy
(`query_wait_timeout`) is an outage: 503 with Retry-After, logged with that cause."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg
import httpx

from app.auth.scopes import ALL_SCOPES
from app.config import Settings
from app.main import create_app
from tests.conftest import bearer
from tests.infra import Cluster, bouncing
from tests.outage.test_unreachable import Kept
from tests.served import ROOT

REFUSED = "unsupported startup parameter: statement_timeout"


def said(kept: Kept, level: int) -> list[str]:
    """Each record at `level` or above: its message, `error` and traceback, as one text."""
    formatter = logging.Formatter()
    return [
        " ".join(
            [r.getMessage(), str(getattr(r, "error", ""))]
            + ([formatter.formatException(r.exc_info)] if r.exc_info else [])
        )
        for r in kept.records
        if r.levelno >= level
    ]


@contextmanager
def kept_logs() -> Iterator[Kept]:
    kept = Kept()
    logging.getLogger("app").addHandler(kept)
    try:
        yield kept
    finally:
        logging.getLogger("app").removeHandler(kept)


def _settings(url: str, **overrides: object) -> Settings:
    return Settings(
        environment="test", database_url=url, worker_in_process=False, rate_limit_per_second=0,
        **overrides,  # type: ignore[arg-type]
    )  # fmt: skip


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"ENVIRONMENT": "test", "DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "app", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


class TestARefusal:
    async def test_is_a_500_logged_with_what_the_pooler_said(self, pgbouncer):
        settings = _settings(pgbouncer.url)  # DATABASE_POOLER=none: the timeout at startup
        headers = bearer(settings, *ALL_SCOPES)
        with kept_logs() as kept:
            async with serving(settings) as client:
                rest = await client.get("/api/students/f000abc/terms", headers=headers)
                query = {"query": '{ student(netid: "f000abc") { netid } }'}
                graphql = await client.post("/graphql", json=query, headers=headers)
                ready = await client.get("/readyz")
        assert rest.status_code == 500 and rest.json()["code"] == "INTERNAL", rest.text
        assert "retry-after" not in rest.headers
        assert graphql.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert ready.status_code == 503
        errors = said(kept, logging.ERROR)
        assert len(errors) == 2 and all(REFUSED in e for e in errors), errors
        health = [s for s in said(kept, logging.WARNING) if s.startswith("health check")]
        assert len(health) == 1 and REFUSED in health[0], said(kept, logging.WARNING)
        assert not [s for s in said(kept, logging.WARNING) if "database unavailable" in s]

    def test_ready_and_the_worker_say_it_in_one_line(self, pgbouncer):
        for command in ("ready", "worker"):
            done = _cli(pgbouncer.url, command)
            assert done.returncode == 1, (command, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert lines[-1] == f"studentgraph: error: database error: {REFUSED}", done.stderr


async def test_a_pooler_without_a_free_server_connection_is_an_outage(cluster: Cluster):
    with bouncing(cluster, default_pool_size=1, query_wait_timeout=1) as bouncer:
        settings = _settings(
            bouncer.url, database_pooler="transaction", database_listen_url=cluster.url
        )
        holder = await asyncpg.connect(bouncer.url.replace("+asyncpg", ""), statement_cache_size=0)
        try:
            await holder.execute("BEGIN")  # the one server connection, held
            with kept_logs() as kept:
                async with serving(settings) as client:
                    answer = await client.get(
                        "/api/students/f000abc/terms", headers=bearer(settings, *ALL_SCOPES)
                    )
        finally:
            await asyncio.wait_for(holder.close(), 5)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5", answer.text
    assert answer.json()["code"] == "SERVICE_UNAVAILABLE"
    unavailable = [s for s in said(kept, logging.WARNING) if "database unavailable" in s]
    assert len(unavailable) == 1 and "query_wait_timeout" in unavailable[0], said(
        kept, logging.DEBUG
    )
