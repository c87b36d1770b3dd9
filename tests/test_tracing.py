"""OpenTelemetry traces (app/tracing.py): off by default, with nothing of OpenTelemetry imported;
on, one trace per GraphQL request (HTTP -> operation -> SQL) and per task apply (apply -> SQL),
carrying the request id and never a token or a D-plan value."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import tracing
from app.auth import STUDENTS_READ, STUDENTS_WRITE
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.worker import Worker
from tests.conftest import bearer
from tests.factories import make_student

ROOT = Path(__file__).resolve().parent.parent
NETID = "f0027k4"
SET_DPLANS = """
mutation SetDplans($netid: String!, $dplans: [DplanInput!]!) {
  setDplans(netid: $netid, dplans: $dplans) { taskId status }
}"""
# Values a span must never carry (the tokens are checked too, in each test).
DPLANS = [
    {"termCode": "202301", "dplanId": "R", "dplanSourceId": "PHL"},
    {"termCode": "202303", "dplanId": "R", "dplanSourceId": "PHL"},
]
SECRET_VALUES = ("PHL", "202301", "202303")

# A fresh interpreter: the app built and started, a request answered, the worker's command
# module imported; then the OpenTelemetry modules loaded must be only those FastAPI's own import
# brings (FastAPI 0.16x imports the OpenTelemetry *API* for its native telemetry, which
# create_app turns off): no SDK, no exporter, no instrumentation.
UNTRACED_RUN = textwrap.dedent(
    """
    import asyncio, sys
    import fastapi

    def loaded():
        return sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")

    with_fastapi = loaded()
    import httpx
    from app.config import Settings
    from app.main import create_app
    import app.cli.worker, app.worker

    async def main():
        app = create_app(Settings(database_url=sys.argv[1], environment="test"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/readyz")).status_code == 200
                assert (await client.post("/graphql", json={"query": "{x}"})).status_code == 401

    asyncio.run(main())
    print(sorted(set(loaded()) - set(with_fastapi)))
    """
)


class TestOff:
    def test_nothing_of_opentelemetry_is_imported_by_us(self, tmp_path):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no OTEL_* from the caller
        run = subprocess.run(
            [sys.executable, "-c", UNTRACED_RUN, f"sqlite+aiosqlite:///{tmp_path}/t.db"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip().splitlines()[-1] == "[]"

    def test_a_span_is_a_shared_null_context(self):
        assert not tracing.enabled()
        assert tracing.span("x", {"a": 1}) is tracing.span("y")
        assert tracing.statement("SELECT 1", "sqlite") is tracing.span("z")

    def test_the_endpoint_must_be_a_url(self):
        with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_ENDPOINT: must start with"):
            Settings(otel_exporter_otlp_endpoint="collector:4318")


@pytest.fixture
def spans() -> Iterator[Any]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    assert tracing.enable(Settings(), "studentgraph-test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.disable()


def _children(spans: list[Any], parent: Any) -> list[Any]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _only(spans: list[Any], name: str) -> Any:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def _assert_nothing_secret(spans: list[Any], *secrets: str) -> None:
    for span in spans:
        for key, value in span.attributes.items():
            text = json.dumps(value) if not isinstance(value, str) else value
            for secret in secrets:
                assert secret not in text, (span.name, key)


class TestOn:
    async def test_a_graphql_request_and_its_task_apply(self, spans, settings, session):
        await make_student(session, netid=NETID)
        await session.commit()
        # The test applies the task itself, so no worker of the app's may take it first.
        settings = settings.model_copy(update={"worker_in_process": False})
        app = create_app(settings)
        headers = bearer(settings, STUDENTS_WRITE, STUDENTS_READ)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                variables = {"netid": NETID, "dplans": DPLANS}
                response = await client.post(
                    "/graphql", json={"query": SET_DPLANS, "variables": variables}, headers=headers
                )
        body = response.json()
        assert body.get("errors") is None, body
        task_id = body["data"]["setDplans"]["taskId"]
        request_spans = list(spans.get_finished_spans())

        http = _only(request_spans, "POST /graphql")
        assert http.parent is None
        assert http.attributes[tracing.REQUEST_ID] == response.headers["x-request-id"]
        operation = _only(request_spans, "mutation SetDplans")
        assert operation.parent.span_id == http.context.span_id
        assert operation.context.trace_id == http.context.trace_id
        assert operation.attributes["graphql.operation.type"] == "mutation"
        assert operation.attributes[tracing.REQUEST_ID] == response.headers["x-request-id"]
        statements = _children(request_spans, operation)
        inserts = [s for s in statements if "INSERT INTO tasks" in s.attributes["db.statement"]]
        assert len(inserts) == 1, [s.attributes["db.statement"] for s in statements]

        spans.clear()
        engine = create_engine(settings)
        try:
            assert await Worker(settings, engine, create_sessionmaker(engine)).run_one("w/0")
        finally:
            await engine.dispose()
        worker_spans = list(spans.get_finished_spans())
        apply = _only(worker_spans, "task apply")
        assert apply.parent is None  # a trace of its own
        assert list(apply.attributes["studentgraph.task_ids"]) == [task_id]
        applied = [s.attributes["db.statement"] for s in _children(worker_spans, apply)]
        assert any("student_dplans" in sql for sql in applied), applied
        assert any(sql.startswith("UPDATE tasks") for sql in applied), applied

        token = headers["Authorization"].split()[1]
        _assert_nothing_secret(request_spans + worker_spans, token, *SECRET_VALUES)

    async def test_query_strings_stay_out_of_the_spans(self, spans, app, auth):
        # GET /graphql carries the document and variables in the URL; REST its filter values.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            graphql = await client.get(
                "/graphql",
                params={
                    "query": 'query($n: String!) { a: student(netid: "q000sec") { netid } '
                    "b: student(netid: $n) { netid } }",
                    "variables": '{"n": "v000sec"}',
                },
                headers=auth(STUDENTS_READ),
            )
            rest = await client.get(
                "/api/academic/plans", params={"student_netid": "r000sec"}, headers=auth()
            )
        assert (graphql.status_code, rest.status_code) == (200, 200)
        finished = list(spans.get_finished_spans())
        assert _only(finished, "GET /graphql").attributes["http.url"] == "http://t/graphql"
        _assert_nothing_secret(finished, "q000sec", "v000sec", "r000sec")

    async def test_a_planned_read_is_spanned_too(self, spans, app, auth):
        query = 'query One { student(netid: "nobody") { netid } }'
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/graphql", json={"query": query}, headers=auth(STUDENTS_READ)
            )
        assert response.json()["data"] == {"student": None}
        finished = list(spans.get_finished_spans())
        operation = _only(finished, "query One")
        assert operation.attributes["studentgraph.graphql.planned"] is True
        (select,) = _children(finished, operation)
        dialect = app.state.studentgraph.engine.dialect.name
        # On PostgreSQL the read writes its disclosure records itself, in a CTE (README).
        verb = "WITH" if dialect == "postgresql" else "SELECT"
        assert (select.name, select.attributes["db.system"]) == (verb, dialect)
