"""Every pooled connection busy past DATABASE_POOL_TIMEOUT_SECONDS: a 503 with Retry-After at
both doors, as for a database that cannot be reached; never a 500, never a wait without end."""

from __future__ import annotations

import httpx
import pytest

from app.auth.scopes import ALL_SCOPES
from app.main import create_app
from tests.conftest import bearer

READS = [
    ("GET", "/api/students/f000abc/terms", None),
    ("POST", "/graphql", {"query": '{ student(netid: "f000abc") { netid } }'}),
]


@pytest.mark.parametrize(("method", "path", "body"), READS)
async def test_a_request_that_gets_no_connection_is_told_to_retry(
    settings, clock, database_url, method, path, body
):
    if not database_url.startswith("postgresql"):
        pytest.skip("the connection pool: PostgreSQL")
    small = settings.model_copy(
        update={
            "database_pool_size": 1,
            "database_pool_timeout_seconds": 0.2,
            "worker_in_process": False,
        }
    )
    app = create_app(small, clock=clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        engine = app.state.studentgraph.engine
        async with engine.connect():  # the pool's one connection, held by someone else
            response = await client.request(
                method, path, json=body, headers=bearer(small, *ALL_SCOPES)
            )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert "SERVICE_UNAVAILABLE" in response.text
        # Once the connection is back, the same request is answered.
        again = await client.request(method, path, json=body, headers=bearer(small, *ALL_SCOPES))
        assert again.status_code in (200, 404), again.text
