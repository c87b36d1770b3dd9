"""/metrics: bounded labels (route templates, known methods, validated and capped GraphQL
operation names, error codes), the task queue read at scrape, the worker's task metrics, pool
connections and WebSockets. Counters are the process's, shared by every test: each test reads
the change its own requests made."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.worker import Worker
from tests.factories import make_student
from tests.worker.helpers import accept, seed_payload

RUNBOOK = (Path(__file__).resolve().parents[1] / "docs" / "operations" / "runbook.md").read_text()

NETID = "f00mtr1"


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class Scrapes:
    """Reads /metrics, and the change of one series between two reads."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.last: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}

    async def read(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        response = await self.client.get("/metrics")
        assert response.status_code == 200
        self.text = response.text
        return parse(response.text)

    @staticmethod
    def value(samples: dict[Any, float], name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)


async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def plain(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app alone (the suite's client also asks the loaders' app, which counts too)."""
    async for client in _client(app):
        yield client


def requests_of(samples: dict[Any, float], route: str, method: str = "GET") -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "studentgraph_requests_total"
        and ("route", route) in labels
        and ("method", method) in labels
    )


class TestRouteLabels:
    async def test_templates_never_paths_and_one_label_for_everything_unmatched(
        self, app, plain, auth
    ):
        scrapes = Scrapes(plain)
        before = await scrapes.read()
        for path in ("/api/students/f000abc/terms", "/api/students/zz404zz/terms"):
            await plain.get(path, headers=auth())
        for path in ("/api/academic/plans/20109", "/api/academic/plans/1"):
            await plain.get(path, headers=auth())
        for path in ("/zz-9850", "/zz-1", "/api/nothing/here", "/api/students"):
            assert (await plain.get(path)).status_code == 404
        await plain.get("/graphql/static/graphiql.css")
        after = await scrapes.read()

        def grew(route: str) -> float:
            return requests_of(after, route) - requests_of(before, route)

        assert grew("/api/students/{netid}/terms") == 2
        assert grew("/api/academic/plans/{plan_id}") == 2
        assert grew("unmatched") == 4
        assert grew("/graphql/static/{path}") == 1
        # In label values (a sample's value once held "0.20109...": the text is no place to look)
        labels = " ".join(value for (_, ls) in after for _, value in ls)
        for fragment in ("zz-9850", "f000abc", "zz404zz", "20109", "nothing"):
            assert fragment not in labels
        templates = {c.path_format for c in iter_route_contexts(app.routes)}
        routes = {dict(ls).get("route") for (_, ls) in after} - {None}
        assert routes <= templates | {"unmatched"}, routes - templates

    async def test_distinct_routes_have_distinct_templates(self, plain, auth):
        scrapes = Scrapes(plain)
        before = await scrapes.read()
        await plain.get("/api/students/f000abc/plans", headers=auth())
        await plain.get("/api/students/f000abc", headers=auth())
        await plain.patch("/api/students/f000abc", json={}, headers=auth())
        after = await scrapes.read()
        for method, route in [
            ("GET", "/api/students/{netid}/plans"),
            ("GET", "/api/students/{netid}"),
            ("PATCH", "/api/students/{netid}"),
        ]:
            assert requests_of(after, route, method) - requests_of(before, route, method) == 1

    async def test_a_method_nobody_serves_is_one_label(self, plain):
        scrapes = Scrapes(plain)
        before = await scrapes.read()
        for method in ("FOO1", "FOO2"):
            assert (await plain.request(method, "/healthz")).status_code == 405
        after = await scrapes.read()
        assert (
            requests_of(after, "/healthz", "other") - requests_of(before, "/healthz", "other") == 2
        )
        assert "FOO1" not in scrapes.text


OPERATIONS = "studentgraph_graphql_operations_total"
ERRORS = "studentgraph_graphql_errors_total"


async def _graphql(client: httpx.AsyncClient, headers: dict[str, str], query: str) -> Any:
    return (await client.post("/graphql", json={"query": query}, headers=headers)).json()


class TestGraphQLOperations:
    async def test_validated_operations_by_name_and_type(self, plain, auth):
        scrapes = Scrapes(plain)
        name = f"Codes{uuid.uuid4().hex[:8]}"
        before = await scrapes.read()
        for _ in range(2):
            body = await _graphql(plain, auth(), f"query {name} {{ dplanCodes {{ id }} }}")
            assert body.get("errors") is None
        await _graphql(plain, auth(), "{ dplanCodes { id } }")
        invalid = f"Bogus{uuid.uuid4().hex[:8]}"
        body = await _graphql(plain, auth(), f"query {invalid} {{ nope }}")
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        after = await scrapes.read()

        def grew(metric: str, **labels: str) -> float:
            return Scrapes.value(after, metric, **labels) - Scrapes.value(before, metric, **labels)

        assert grew(OPERATIONS, operation=name, type="query") == 2
        assert grew(OPERATIONS, operation="anonymous", type="query") == 1
        assert grew(ERRORS, code="GRAPHQL_VALIDATION_FAILED") == 1
        assert invalid not in scrapes.text  # an invalid document names nothing

    async def test_an_operation_refused_at_its_door_is_not_counted(self, plain, auth):
        scrapes = Scrapes(plain)
        name = f"Refused{uuid.uuid4().hex[:8]}"
        over_get = await plain.get(
            "/graphql",
            params={"query": f'mutation {name} {{ setDplans(netid: "x", dplans: []) {{ id }} }}'},
            headers=auth(),
        )
        assert over_get.status_code == 405
        over_http = await _graphql(
            plain, auth(), f'subscription {name} {{ taskUpdated(taskId: "x") {{ status }} }}'
        )
        assert over_http["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        await scrapes.read()
        assert name not in scrapes.text

    async def test_names_past_the_cap_are_other(self, settings, clock, auth):
        capped = settings.model_copy(update={"metrics_graphql_operations_max": 2})
        application = create_app(capped, clock=clock)
        async with application.router.lifespan_context(application):
            async for client in _client(application):
                scrapes = Scrapes(client)
                before = await scrapes.read()
                names = [f"Cap{i}x{uuid.uuid4().hex[:6]}" for i in range(4)]
                for name in names + names[:1]:
                    await _graphql(client, auth(), f"query {name} {{ dplanCodes {{ id }} }}")
                after = await scrapes.read()
        assert Scrapes.value(after, OPERATIONS, operation=names[0], type="query") == 2
        assert Scrapes.value(after, OPERATIONS, operation=names[1], type="query") == 1
        other = {"operation": "other", "type": "query"}
        assert (
            Scrapes.value(after, OPERATIONS, **other) - Scrapes.value(before, OPERATIONS, **other)
            == 2
        )
        assert names[2] not in scrapes.text and names[3] not in scrapes.text

    async def test_only_known_names_when_they_are_given(self, settings, clock, auth):
        known = settings.model_copy(update={"metrics_graphql_operations": ["KnownCodes"]})
        application = create_app(known, clock=clock)
        async with application.router.lifespan_context(application):
            async for client in _client(application):
                scrapes = Scrapes(client)
                before = await scrapes.read()
                await _graphql(client, auth(), "query KnownCodes { dplanCodes { id } }")
                await _graphql(client, auth(), "query UnknownCodes { dplanCodes { id } }")
                after = await scrapes.read()
        for operation in ("KnownCodes", "other"):
            labels = {"operation": operation, "type": "query"}
            grew = Scrapes.value(after, OPERATIONS, **labels) - Scrapes.value(
                before, OPERATIONS, **labels
            )
            assert grew == 1
        assert "UnknownCodes" not in scrapes.text

    async def test_errors_by_code(self, plain, auth):
        scrapes = Scrapes(plain)
        before = await scrapes.read()
        refused = await plain.post("/graphql", json={"query": "{ dplanCodes { id } }"})
        assert refused.status_code == 401
        await _graphql(plain, auth(), 'query { student(netid: "zz0000") { netid } }')
        await _graphql(plain, auth(), "query {")
        after = await scrapes.read()
        for code in ("UNAUTHENTICATED", "GRAPHQL_PARSE_FAILED"):
            grew = Scrapes.value(after, ERRORS, code=code) - Scrapes.value(
                before, ERRORS, code=code
            )
            assert grew == 1, code


async def _apply_one(settings: Any) -> bool:
    engine = create_engine(settings)
    try:
        return await Worker(settings, engine, create_sessionmaker(engine)).run_one("test/0")
    finally:
        await engine.dispose()


@pytest.fixture
def queued(settings):
    """Settings whose app runs no worker: the test applies tasks itself."""
    return settings.model_copy(
        update={"worker_in_process": False, "worker_backoff_base_seconds": 0.0}
    )


@pytest.fixture
async def queued_app(queued, clock) -> AsyncIterator[Any]:
    application = create_app(queued, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def queued_client(queued_app) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(queued_app):
        yield client


class TestTaskQueue:
    async def test_depth_and_age_read_at_scrape_and_outcomes_counted(
        self, queued, queued_client, session, sessions
    ):
        await make_student(session, netid=NETID)
        await session.commit()
        scrapes = Scrapes(queued_client)
        before = await scrapes.read()
        assert Scrapes.value(before, "studentgraph_database_up") == 1
        assert Scrapes.value(before, "studentgraph_task_queue_depth", status="accepted") == 0
        assert Scrapes.value(before, "studentgraph_task_oldest_accepted_age_seconds") == 0
        for _ in range(2):
            await accept(sessions, NETID, seed_payload())
        await asyncio.sleep(0.05)
        waiting = await scrapes.read()
        assert Scrapes.value(waiting, "studentgraph_task_queue_depth", status="accepted") == 2
        assert 0.05 <= Scrapes.value(waiting, "studentgraph_task_oldest_accepted_age_seconds") < 60
        # One student's tasks apply in order, one claim each.
        assert await _apply_one(queued) and await _apply_one(queued)
        after = await scrapes.read()
        assert Scrapes.value(after, "studentgraph_task_queue_depth", status="accepted") == 0
        assert Scrapes.value(after, "studentgraph_task_oldest_accepted_age_seconds") == 0

        def grew(name: str, **labels: str) -> float:
            return Scrapes.value(after, name, **labels) - Scrapes.value(before, name, **labels)

        assert grew("studentgraph_tasks_total", outcome="complete") == 2
        assert grew("studentgraph_task_apply_seconds_count") == 2
        assert grew("studentgraph_task_completion_seconds_count") == 2

    async def test_a_failed_attempt_is_a_retry(self, queued, queued_client, session, sessions):
        await make_student(session, netid=NETID)
        await session.commit()
        failing = queued.model_copy(update={"worker_test_failures": 1})
        scrapes = Scrapes(queued_client)
        before = await scrapes.read()
        await accept(sessions, NETID, seed_payload())
        assert await _apply_one(failing)  # attempt 1 fails on purpose
        assert await _apply_one(failing)  # attempt 2 succeeds
        after = await scrapes.read()

        def grew(name: str, **labels: str) -> float:
            return Scrapes.value(after, name, **labels) - Scrapes.value(before, name, **labels)

        assert grew("studentgraph_tasks_total", outcome="retry") == 1
        assert grew("studentgraph_task_retries_total") == 1
        assert grew("studentgraph_tasks_total", outcome="complete") == 1


class TestConnections:
    async def test_pool_connections_in_use(self, queued_app, queued_client):
        # No in-process worker here: its polls would check connections out meanwhile.
        scrapes = Scrapes(queued_client)
        idle = Scrapes.value(await scrapes.read(), "studentgraph_db_pool_connections_in_use")
        async with queued_app.state.studentgraph.engine.connect():
            held = Scrapes.value(await scrapes.read(), "studentgraph_db_pool_connections_in_use")
        released = Scrapes.value(await scrapes.read(), "studentgraph_db_pool_connections_in_use")
        assert held == idle + 1
        assert released == idle

    def test_websocket_connections(self, settings, clock):
        def open_sockets(client: TestClient) -> float:
            samples = parse(client.get("/metrics").text)
            return Scrapes.value(samples, "studentgraph_websocket_connections")

        with TestClient(create_app(settings, clock=clock)) as client:
            before = open_sockets(client)
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                ws.send_json({"type": "ping"})
                assert ws.receive_json()["type"] == "pong"
                assert open_sockets(client) == before + 1
            for _ in range(50):  # the server side ends its handler just after the close
                if open_sockets(client) == before:
                    break
                time.sleep(0.02)
            assert open_sockets(client) == before


async def test_the_runbook_names_only_metrics_the_api_serves(client, auth):
    """Every metric the runbook's *What to watch* table and alert rules name is in /metrics, and
    the rules are valid YAML (an operator pastes them)."""
    import re

    import yaml

    section = RUNBOOK.split("## What to watch", 1)[1].split("## Health endpoints", 1)[0]
    rules = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    assert {r["alert"] for r in rules["groups"][0]["rules"]} >= {"StudentgraphPoolSaturated"}
    await client.get("/api/students/f000abc/terms", headers=auth())  # a request to count
    exposition = (await client.get("/metrics")).text
    served = {family.name for family in text_string_to_metric_families(exposition)}
    named = set(re.findall(r"studentgraph_[a-z_]+", section))
    assert len(named) >= 7  # the table's and the rules' metrics
    # Counters are exposed without their `_total` suffix in the family name.
    assert {n.removesuffix("_total") for n in named} - served == set()
