"""Brakes: a per-caller rate limit (429 with Retry-After; shared through Redis across processes)
and a statement timeout (a runaway statement ends in a clean error)."""

from __future__ import annotations

import socket
import time
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import text

from app.auth.scopes import ALL_SCOPES
from app.db import create_engine
from app.main import create_app
from app.ratelimit.buckets import Bucket, RedisBuckets
from tests.conftest import bearer
from tests.factories import make_student
from tests.hostile import assert_clean

REDIS = ("127.0.0.1", 6379)


@asynccontextmanager
async def serving(settings, clock):
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


def _redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError:
        return False
    return True


class TestRateLimit:
    async def test_past_the_burst_a_caller_waits(self, settings, clock):
        limited = settings.model_copy(update={"rate_limit_per_second": 1, "rate_limit_burst": 3})
        caller, other = (
            bearer(settings, *ALL_SCOPES, sub="greedy"),
            bearer(settings, *ALL_SCOPES, sub="other"),
        )
        async with serving(limited, clock) as client:
            answers = [await client.get("/api/academic/plans", headers=caller) for _ in range(4)]
            graphql = await client.post(
                "/graphql", json={"query": "{ dplanCodes { id } }"}, headers=caller
            )
            elsewhere = await client.get("/api/academic/plans", headers=other)
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.json()["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        assert graphql.status_code == 429
        assert graphql.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert elsewhere.status_code == 200  # per caller
        assert_clean(refused)

    @pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
    async def test_processes_share_the_bucket_through_redis(self, settings, clock):
        shared = settings.model_copy(
            update={
                "rate_limit_per_second": 1,
                "rate_limit_burst": 2,
                "redis_url": "redis://127.0.0.1:6379/0",
            }
        )
        caller = bearer(settings, *ALL_SCOPES, sub=f"shared-{uuid.uuid4().hex}")
        async with serving(shared, clock) as one, serving(shared, clock) as two:
            first = await one.get("/api/academic/plans", headers=caller)
            second = await two.get("/api/academic/plans", headers=caller)
            third = await one.get("/api/academic/plans", headers=caller)
            fourth = await two.get("/api/academic/plans", headers=caller)
        assert [r.status_code for r in (first, second, third, fourth)] == [200, 200, 429, 429]

    @pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
    async def test_hosts_whose_clocks_disagree_pass_only_what_the_bucket_allows(self):
        """Finding 11: each host's own clock in the shared bucket let skewed hosts refill it on
        every alternation (2,000 of 2,000 passed). Two limiters, one clock a second ahead and
        one a second behind, alternate 400 draws on a bucket of 10 refilled 50 a second: what
        passes is at most the 10 plus what 50 a second refills in the time Redis saw pass."""
        import redis.asyncio as redis

        bucket, sub = Bucket("requests", 50, 10), f"skewed-{uuid.uuid4().hex}"
        clients = [redis.from_url("redis://127.0.0.1:6379/0") for _ in range(2)]
        ahead = RedisBuckets(clients[0], clock=lambda: time.time() + 1)
        behind = RedisBuckets(clients[1], clock=lambda: time.time() - 1)
        try:
            started = await clients[0].time()
            draws = [await (ahead, behind)[i % 2].draw(bucket, sub, 1) for i in range(400)]
            ended = await clients[0].time()
        finally:
            await ahead.close()
            await behind.close()
        seconds = (ended[0] - started[0]) + (ended[1] - started[1]) / 1e6  # Redis's clock
        passed = sum(d.allowed for d in draws)
        assert 10 <= passed <= 10 + 50 * seconds + 1, (passed, seconds)

    async def test_an_unreachable_redis_lets_requests_through(self, settings, clock):
        nowhere = settings.model_copy(
            update={"rate_limit_per_second": 1, "redis_url": "redis://127.0.0.1:1/0"}
        )
        async with serving(nowhere, clock) as client:
            response = await client.get(
                "/api/academic/plans", headers=bearer(settings, *ALL_SCOPES)
            )
        assert response.status_code == 200


class TestStatementTimeout:
    async def test_a_statement_past_the_limit_is_a_clean_503(
        self, settings, clock, session, database_url
    ):
        if not database_url.startswith("postgresql"):
            pytest.skip("statement_timeout is PostgreSQL's (SQLite has none)")
        await make_student(session, netid="f000abc")
        await session.commit()
        short = settings.model_copy(update={"database_statement_timeout_ms": 300})
        locker = create_engine(settings)
        headers = bearer(settings, *ALL_SCOPES)
        try:
            async with locker.connect() as connection:
                # A statement waiting on a lock runs for as long as the lock is held.
                await connection.execute(text("LOCK TABLE students IN ACCESS EXCLUSIVE MODE"))
                async with serving(short, clock) as client:
                    rest = await client.get("/api/students/f000abc", headers=headers)
                    planned = await client.post(
                        "/graphql",
                        json={"query": '{ student(netid: "f000abc") { netid } }'},
                        headers=headers,
                    )
                await connection.rollback()
        finally:
            await locker.dispose()
        assert rest.status_code == 503 and rest.json()["code"] == "TIMEOUT"
        assert planned.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
        assert_clean(rest, unavailable=True)
        assert_clean(planned, unavailable=True)
