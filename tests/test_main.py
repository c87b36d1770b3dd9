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
