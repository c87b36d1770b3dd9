"""A database that cannot be reached: every request a 503 with Retry-After in its door's shape,
logged once (with the request id), and /readyz says 503."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.auth.scopes import ALL_SCOPES
from app.main import create_app
from tests.conftest import bearer

NOWHERE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
DPLAN = {"term_code": "202301", "dplan_id": "R", "dplan_source_id": "PHL"}
DPLAN_INPUT = '{termCode: "202301", dplanId: "R", dplanSourceId: "PHL"}'
REQUESTS = [
    ("GET", "/api/students/f000abc", None),
    ("GET", "/api/students/f000abc/terms", None),
    ("GET", "/api/academic/plans", None),
    ("GET", "/api/tasks/" + "0" * 24, None),
    # Well-formed bodies: a malformed one is refused before the database is asked.
    ("PATCH", "/api/students/f000abc", {"dplans": [DPLAN]}),
    ("POST", "/graphql", {"query": '{ student(netid: "f000abc") { netid } }'}),
    ("POST", "/graphql", {"query": '{ task(id: "x") { taskId } }'}),
    (
        "POST",
        "/graphql",
        {"query": 'mutation { setDplans(netid: "x", dplans: [' + DPLAN_INPUT + "]) { id } }"},
    ),
]


@pytest.fixture
async def client(settings, clock):
    down = settings.model_copy(update={"database_url": NOWHERE, "worker_in_process": False})
    app = create_app(down, clock=clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
async def test_a_503_in_the_doors_shape(client, settings, method, path, body):
    headers = bearer(settings, *ALL_SCOPES)
    kept = Kept()
    logging.getLogger("app").addHandler(kept)
    try:
        response = await client.request(method, path, json=body, headers=headers)
    finally:
        logging.getLogger("app").removeHandler(kept)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    answer = response.json()
    if path == "/graphql":
        assert answer["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    else:
        assert answer["code"] == "SERVICE_UNAVAILABLE"
    logged = [r for r in kept.records if r.levelno >= logging.WARNING and r.name != "app.notify"]
    assert len(logged) == 1 and logged[0].request_id, [r.getMessage() for r in logged]
    assert "Traceback" not in response.text


async def test_readyz_says_503(client):
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/healthz")).status_code == 200
