"""The app shell: health, readiness, metrics, request ids, structured logs."""

from __future__ import annotations

import json
import logging

from app.observability import JsonFormatter


class TestShell:
    async def test_health_and_readiness(self, client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready"}

    async def test_every_response_has_a_request_id(self, client):
        first = await client.get("/healthz")
        second = await client.get("/healthz")
        assert len(first.headers["x-request-id"]) == 32
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_metrics_count_requests_by_route_not_by_id(self, client, auth):
        await client.get("/graphql", params={"query": "{ dplanCodes { id } }"}, headers=auth())
        await client.get("/api/students/f000abc/terms", headers=auth())
        text = (await client.get("/metrics")).text
        assert 'studentgraph_requests_total{method="GET",route="/graphql"' in text
        assert "f000abc" not in text

    async def test_unknown_route_uses_the_error_shape(self, client):
        response = await client.get("/nowhere")
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


class TestJsonLogs:
    def test_one_json_object_per_line_with_extras(self):
        record = logging.makeLogRecord(
            {"msg": "request", "levelname": "INFO", "name": "app.access", "request_id": "abc"}
        )
        line = JsonFormatter().format(record)
        entry = json.loads(line)
        assert entry["msg"] == "request" and entry["request_id"] == "abc"
        assert "\n" not in line


class TestUnexpectedErrors:
    async def _client(self, app):
        import httpx

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async def test_rest_500_is_the_error_shape_without_details(self, app, auth, monkeypatch):
        async def boom(*_args, **_kwargs):
            raise RuntimeError("secret internals")

        monkeypatch.setattr("app.repositories.json_reads.JsonReads.one", boom)
        async with await self._client(app) as client:
            response = await client.get("/api/students/f000abc", headers=auth())
        assert response.status_code == 500
        assert response.json() == {
            "status": 500,
            "code": "INTERNAL",
            "message": "Unexpected error.",
            "problems": [],
        }
        assert "secret" not in response.text and "Traceback" not in response.text

    async def test_graphql_500_outside_execution_is_masked(self, app, auth, monkeypatch):
        def boom(*_args, **_kwargs):
            raise RuntimeError("secret internals")

        monkeypatch.setattr("app.graphql.http.build_context", boom)
        unplanned = '{ task(id: "x") { taskId } }'  # the resolvers answer it (build_context)
        async with await self._client(app) as client:
            response = await client.post("/graphql", json={"query": unplanned}, headers=auth())
        assert response.status_code == 500
        error = response.json()["errors"][0]
        assert error == {
            "message": "Unexpected error.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }


class TestBodyLimit:
    BIG = b'{"query": "' + b" " * (1024 * 1024 + 10) + b'{ dplanCodes { id } }"}'

    async def test_declared_oversized_bodies_are_413_in_each_edge_shape(self, client, auth):
        headers = {**auth(), "Content-Type": "application/json"}
        graphql = await client.post("/graphql", content=self.BIG, headers=headers)
        assert graphql.status_code == 413
        assert graphql.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        rest = await client.patch("/api/students/f000abc", content=self.BIG, headers=headers)
        assert rest.status_code == 413
        assert rest.json()["code"] == "PAYLOAD_TOO_LARGE"

    async def test_streamed_oversized_bodies_are_413_too(self, client, auth):
        async def chunks():
            for start in range(0, len(self.BIG), 65536):
                yield self.BIG[start : start + 65536]

        headers = {**auth(), "Content-Type": "application/json"}
        response = await client.patch("/api/students/f000abc", content=chunks(), headers=headers)
        assert "content-length" not in response.request.headers
        assert response.status_code == 413

    async def test_bodies_within_the_limit_are_read(self, client, auth):
        query = b'{"query": "' + b" " * 500_000 + b'{ dplanCodes { id } }"}'
        headers = {**auth(), "Content-Type": "application/json"}
        response = await client.post("/graphql", content=query, headers=headers)
        assert response.status_code == 200 and response.json()["data"]["dplanCodes"]
