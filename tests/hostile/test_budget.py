"""The budget per caller, in cost rather than requests (issue 19): a GraphQL operation draws its
requested cost, a REST request the rows it asks for (its page size; one record: 1), a
subscription its cost when it starts; what is left is told in `RateLimit-*` headers and in
`extensions.cost.throttleStatus`; past it, 429 with `Retry-After` (GraphQL: RATE_LIMITED), before
the database is asked. Shared through Redis by every process."""

from __future__ import annotations

import gc
import hashlib
import json
import tracemalloc

import pytest

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.ratelimit.buckets import ENTRY_BYTES, MAX_BYTES, MAX_ENTRIES, Bucket, LocalBuckets
from tests.conftest import counting_statements
from tests.hostile import assert_clean
from tests.hostile.instances import REDIS_URL, a_caller, ask, instance, next_message, redis_up
from tests.hostile.stalls import loop_prober

HUNDRED = "{ students(first: 100) { edges { node { netid } } } }"  # cost 100 x (1 + 2)
ONE_ROW = "{ students(first: 1) { edges { node { netid } } } }"  # cost 3
STUDENT = '{ student(netid: "f000abc") { netid } }'  # cost 1
FOLLOW = 'subscription { taskUpdated(taskId: "0123456789abcdef01234567") { status } }'  # 1


def budgeted(settings, per_minute: int, **more):
    update = {
        "rate_limit_cost_per_minute": per_minute,
        "graphql_max_cost": per_minute,
        "worker_in_process": False,
        **more,
    }
    return settings.model_copy(update=update)


def headers_for(settings, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(settings, sub=sub, scopes=list(ALL_SCOPES))}"}


def budget_of(response) -> tuple[int, int, int, str]:
    h = response.headers
    return (
        int(h["ratelimit-limit"]),
        int(h["ratelimit-remaining"]),
        int(h["ratelimit-reset"]),
        h["ratelimit-policy"],
    )


class TestOneProcess:
    async def test_graphql_and_rest_draw_from_one_budget_then_429(self, settings, clock):
        caller, other = headers_for(settings, "greedy"), headers_for(settings, "other")
        async with instance(budgeted(settings, 1000), clock) as one:
            one.app.state.studentgraph.brakes.buckets.clock = lambda: 1000.0  # time stands still
            async with loop_prober(one.client) as prober:
                answers = [
                    await one.client.post("/graphql", json={"query": HUNDRED}, headers=caller)
                    for _ in range(3)
                ]
                with counting_statements(one.app) as sql:
                    refused = await one.client.post(
                        "/graphql", json={"query": HUNDRED}, headers=caller
                    )
                page = await one.client.get("/api/academic/plans?pagesize=100", headers=caller)
                with counting_statements(one.app) as rest_sql:
                    one_record = await one.client.get("/api/students/f000abc", headers=caller)
                elsewhere = await one.client.post(
                    "/graphql", json={"query": HUNDRED}, headers=other
                )
            prober.assert_no_stall()
        assert [a.status_code for a in answers] == [200, 200, 200]
        cost = answers[0].json()["extensions"]["cost"]
        assert cost["requested"] == 300 and cost["maximum"] == 1000
        status = cost["throttleStatus"]
        assert (status["maximumAvailable"], status["currentlyAvailable"]) == (1000, 700)
        assert status["restoreRate"] == pytest.approx(1000 / 60)
        assert [budget_of(a) for a in answers] == [
            (1000, 700, 18, "1000;w=60"),
            (1000, 400, 36, "1000;w=60"),
            (1000, 100, 54, "1000;w=60"),
        ]
        # The fourth: refused before any SQL, saying what it asked and what is left.
        assert refused.status_code == 429 and sql.count == 0
        assert refused.headers["retry-after"] == "12"  # (300 - 100) / (1000 / 60 a second)
        (error,) = refused.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["cost"]["requested"] == 300
        assert error["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 100
        assert budget_of(refused)[1] == 100
        # REST draws its page size (100 of the 100 left), then one record (1) is too much.
        assert page.status_code == 200 and budget_of(page)[1] == 0
        assert one_record.status_code == 429 and rest_sql.count == 0
        assert one_record.json()["code"] == "RATE_LIMITED"
        assert one_record.headers["retry-after"] == "1"
        assert_clean(refused)
        assert_clean(one_record)
        assert elsewhere.status_code == 200 and budget_of(elsewhere)[1] == 700  # per caller

    @pytest.mark.parametrize("planner", [True, False], ids=["planned", "resolved"])
    async def test_a_persisted_get_still_revalidates_to_a_304(self, settings, clock, planner):
        """The budget left changes with every answer; a persisted GET's ETag leaves it out."""
        caller = headers_for(settings, "reader")
        sha = hashlib.sha256(HUNDRED.encode()).hexdigest()
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
        params = {"extensions": json.dumps(extensions)}
        async with instance(budgeted(settings, 1000, graphql_planner=planner), clock) as one:
            registered = await one.client.post(
                "/graphql", json={"query": HUNDRED, "extensions": extensions}, headers=caller
            )
            first = await one.client.get("/graphql", params=params, headers=caller)
            etag = first.headers["etag"]
            again = await one.client.get(
                "/graphql", params=params, headers={**caller, "If-None-Match": etag}
            )
        assert registered.status_code == first.status_code == 200
        assert first.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 1000
        assert again.status_code == 304 and again.headers["etag"] == etag
        assert budget_of(again)[1] < budget_of(first)[1]  # drawn all the same

    async def test_without_a_budget_nothing_is_added(self, settings, clock):
        async with instance(budgeted(settings, 0, graphql_max_cost=1000), clock) as one:
            answer = await one.client.post(
                "/graphql", json={"query": HUNDRED}, headers=headers_for(settings, "a")
            )
        assert answer.json()["extensions"] == {"cost": {"requested": 300, "maximum": 1000}}
        assert "ratelimit-remaining" not in answer.headers


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_two_processes_share_one_budget_over_http_and_websocket(settings, clock):
    """A budget of 6 a minute (one unit back every 10 s), spent at two instances sharing
    Redis: a subscription (1) at one, a query (3) at the other, a REST page of 2 at the first;
    then the WebSocket and HTTP at either are refused."""
    shared = budgeted(settings, 6, redis_url=REDIS_URL)
    sub = a_caller()
    token = mint(settings, sub=sub, scopes=list(ALL_SCOPES))
    headers = {"Authorization": f"Bearer {token}"}
    async with instance(shared, clock) as one, instance(shared, clock) as two:
        async with loop_prober(one.client) as prober:
            first_ws = await one.connect(token)
            assert await next_message(first_ws) == {"type": "connection_ack"}
            followed = await ask(first_ws, FOLLOW)
            assert (await next_message(first_ws))["type"] == "complete"
            query = await two.client.post("/graphql", json={"query": ONE_ROW}, headers=headers)
            page = await one.client.get("/api/academic/plans?pagesize=2", headers=headers)
            second_ws = await two.connect(token)
            assert await next_message(second_ws) == {"type": "connection_ack"}
            ws_refused = await ask(second_ws, STUDENT)
            follow_refused = await ask(first_ws, FOLLOW, op="2")
            http_refused = await one.client.post(
                "/graphql", json={"query": STUDENT}, headers=headers
            )
            await first_ws.close()
            await second_ws.close()
        prober.assert_no_stall()
    # The subscription drew 1 (its task is unknown: it ends NOT_FOUND, after the draw).
    assert followed["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert query.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2
    assert budget_of(query)[:2] == (6, 2)
    assert budget_of(page)[1] == 0
    for refused in (ws_refused, follow_refused):
        assert refused["type"] == "error", refused
        (error,) = refused["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 6
    assert http_refused.status_code == 429 and int(http_refused.headers["retry-after"]) >= 1
    assert http_refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


class TestInMemoryState:
    """The buckets a process holds without Redis are bounded by entries and by bytes (README:
    Limits and brakes); the least recently used are forgotten first."""

    async def test_many_callers_leave_at_most_the_bound(self, settings, clock):
        async with instance(budgeted(settings, 1000), clock) as one:
            buckets = one.app.state.studentgraph.brakes.buckets
            buckets.max_entries, buckets.clock = 50, lambda: 0.0
            async with loop_prober(one.client) as prober:
                for n in range(200):
                    await one.client.post(
                        "/graphql", json={"query": STUDENT}, headers=headers_for(settings, f"c{n}")
                    )
                latest = await one.client.post(
                    "/graphql", json={"query": HUNDRED}, headers=headers_for(settings, "c199")
                )
            prober.assert_no_stall()
        assert len(buckets) == 50
        assert buckets.bytes <= 50 * (100 + ENTRY_BYTES)  # keys of 10 characters or so
        assert budget_of(latest)[1] == 1000 - 1 - 300  # the latest caller's is still held

    def test_the_bytes_held_are_within_the_bound(self):
        """60,000 callers with the longest `sub` a token may carry (128 characters): the
        structure's memory, as tracemalloc sees it, stays within MAX_BYTES."""
        bucket = Bucket("cost", 500, 30_000)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            buckets = LocalBuckets()
            for n in range(60_000):
                buckets.draw_now(bucket, f"{n:0128d}", 1)
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert len(buckets) <= MAX_ENTRIES and buckets.bytes <= MAX_BYTES
        assert len(buckets) < 60_000  # the bytes bound did bind
        assert held <= MAX_BYTES, held
