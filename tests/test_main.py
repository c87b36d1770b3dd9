"""The app shell: health, readiness, metrics, request ids, structured logs, CORS."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from app.config import DEV_CORS_ORIGINS, Settings
from app.observability import JsonFormatter


class TestShell:
    async def test_health_and_readiness(self, client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready"}

    async def test_a_database_that_does_not_answer_is_unready_within_the_check(
        self, app, client, monkeypatch
    ):
        import asyncio
        import time
        from contextlib import asynccontextmanager

        from app.worker import monitoring

        class Hung:
            """An engine whose connections never come (the app's own is left alone)."""

            @asynccontextmanager
            async def connect(self):
                await asyncio.sleep(3600)
                yield

        monkeypatch.setattr(monitoring, "CHECK_SECONDS", 0.2)
        monkeypatch.setattr(app.state.studentgraph, "engine", Hung())
        started = time.monotonic()
        response = await client.get("/readyz")
        assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
        assert time.monotonic() - started < 5

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

    def test_uvicorns_colour_copy_of_the_message_is_dropped(self):
        record = logging.makeLogRecord(
            {
                "msg": "Started server process [%d]",
                "args": (7,),
                "color_message": "Started server process [\x1b[36m%d\x1b[0m]",
            }
        )
        line = JsonFormatter().format(record)
        assert "color_message" not in line and "\\u001b" not in line and "\x1b" not in line
        assert json.loads(line)["msg"] == "Started server process [7]"

    def test_row_values_a_database_error_quotes_are_left_out(self):
        try:
            raise RuntimeError(
                'insert or update on table "student_dplans" violates foreign key constraint\n'
                'DETAIL:  Key (dplan_id)=(QZXD) is not present in table "dplan_codes".'
            )
        except RuntimeError as exc:
            record = logging.makeLogRecord(
                {"msg": "unhandled error", "exc_info": (type(exc), exc, exc.__traceback__)}
            )
            record.error = str(exc)
        entry = json.loads(JsonFormatter().format(record))
        assert "QZXD" not in entry["exc"] and "QZXD" not in entry["error"]
        assert "Key (dplan_id)=(...) is not present" in entry["exc"]


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

        monkeypatch.setattr("app.graphql.operations.build_context", boom)
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
        # Padded outside the document (JSON whitespace): a document is held to 64 KiB itself.
        query = b'{"query": "{ dplanCodes { id } }"' + b" " * 500_000 + b"}"
        headers = {**auth(), "Content-Type": "application/json"}
        response = await client.post("/graphql", content=query, headers=headers)
        assert response.status_code == 200 and response.json()["data"]["dplanCodes"]


DEV_ORIGIN = "http://localhost:5173"
OTHER_ORIGIN = "https://elsewhere.example"


class TestCorsSetting:
    def test_local_dev_servers_outside_production_none_in_it(self, monkeypatch):
        monkeypatch.delenv("CORS_ORIGINS", raising=False)
        assert Settings(environment="development").cors_origins == list(DEV_CORS_ORIGINS)
        assert {"http://localhost:3000", "http://127.0.0.1:5173", "http://localhost:8080"} <= set(
            DEV_CORS_ORIGINS
        )
        assert Settings(environment="production", jwt_secret="p" * 40).cors_origins == []

    def test_a_list_of_origins(self, monkeypatch):
        monkeypatch.setenv("CORS_ORIGINS", "https://app.example.edu, http://localhost:4200")
        assert Settings().cors_origins == ["https://app.example.edu", "http://localhost:4200"]
        monkeypatch.setenv("CORS_ORIGINS", "")
        assert Settings().cors_origins == []
        monkeypatch.setenv("CORS_ORIGINS", "https://app.example.edu/")  # never an Origin
        with pytest.raises(ValidationError, match="CORS_ORIGINS"):
            Settings()


class TestCors:
    @pytest.mark.parametrize(
        ("path", "method", "requested"),
        [
            ("/graphql", "POST", "authorization, content-type"),
            ("/api/students/f000abc", "PATCH", "authorization, content-type, idempotency-key"),
            ("/api/academic/plans", "GET", "authorization, if-none-match"),
        ],
    )
    async def test_preflight_from_an_allowed_origin(self, client, path, method, requested):
        response = await client.options(
            path,
            headers={
                "Origin": DEV_ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": requested,
            },
        )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == DEV_ORIGIN
        assert method in response.headers["access-control-allow-methods"].split(", ")
        allowed = response.headers["access-control-allow-headers"].lower().split(", ")
        assert set(requested.split(", ")) <= set(allowed)
        assert len(response.headers["x-request-id"]) == 32  # still inside the request middleware

    @pytest.mark.parametrize("path", ["/graphql", "/api/students/f000abc"])
    async def test_preflight_from_another_origin_is_refused(self, client, path):
        response = await client.options(
            path, headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"}
        )

        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers

    async def test_answers_and_errors_carry_the_headers_a_page_reads(self, client, auth):
        ok = await client.get("/api/academic/plans", headers={**auth(), "Origin": DEV_ORIGIN})
        assert ok.status_code == 200 and ok.headers["etag"]
        assert ok.headers["access-control-allow-origin"] == DEV_ORIGIN
        exposed = ok.headers["access-control-expose-headers"].split(", ")
        for header in ("ETag", "Location", "Retry-After", "Link", "X-Request-ID", "X-Total-Count"):
            assert header in exposed
        assert {"Authorization", "Origin"} <= set(ok.headers["vary"].split(", "))

        refused = await client.get("/api/academic/plans", headers={"Origin": DEV_ORIGIN})
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHENTICATED"
        assert refused.headers["access-control-allow-origin"] == DEV_ORIGIN

        graphql = await client.post(
            "/graphql",
            json={"query": "{ dplanCodes { id } }"},
            headers={**auth(), "Origin": DEV_ORIGIN},
        )
        assert graphql.json()["data"]["dplanCodes"]
        assert graphql.headers["access-control-allow-origin"] == DEV_ORIGIN

    async def test_the_body_limit_still_answers_in_the_error_shape(self, client, auth):
        headers = {**auth(), "Content-Type": "application/json", "Origin": DEV_ORIGIN}
        response = await client.patch(
            "/api/students/f000abc", content=TestBodyLimit.BIG, headers=headers
        )

        assert response.status_code == 413
        assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert response.headers["access-control-allow-origin"] == DEV_ORIGIN

    async def test_another_origin_gets_the_answer_without_cors_headers(self, client, auth):
        response = await client.get(
            "/api/academic/plans", headers={**auth(), "Origin": OTHER_ORIGIN}
        )

        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers


class TestCorsInProduction:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(
            database_url=database_url,
            environment="production",
            jwt_secret="p" * 40,
            log_level="WARNING",
            rate_limit_per_second=0,
        )

    @pytest.mark.parametrize("path", ["/graphql", "/api/students/f000abc"])
    async def test_no_cors_by_default(self, client, path):
        preflight = await client.options(
            path, headers={"Origin": DEV_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 405
        assert "access-control-allow-origin" not in preflight.headers

        # (production mints no development token: an unauthenticated answer will do)
        response = await client.get(path, headers={"Origin": DEV_ORIGIN})
        assert response.status_code == 401
        assert "access-control-allow-origin" not in response.headers


EXPOSED = ["/metrics", "/docs", "/redoc", "/openapi.json", "/docs/static/swagger-ui.css"]


def _production(database_url: str, **exposure: bool) -> Settings:
    return Settings(
        database_url=database_url,
        environment="production",
        jwt_secret="p" * 40,
        log_level="WARNING",
        **exposure,
    )


class TestExposureInProduction:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return _production(database_url)

    @pytest.mark.parametrize("path", EXPOSED)
    async def test_off_by_default_a_404_like_any_unknown_path(self, client, path):
        response = await client.get(path)
        unknown = await client.get("/nowhere")
        assert (response.status_code, response.json()) == (404, unknown.json())

    async def test_the_api_itself_is_served(self, client):
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/students/f000abc")).status_code == 401


class TestExposureAskedFor:
    @pytest.fixture(params=["metrics_enabled", "docs_enabled"])
    def settings(self, request: pytest.FixtureRequest, database_url: str) -> Settings:
        return _production(database_url, **{request.param: True})

    async def test_each_setting_serves_its_own_paths_only(self, client, settings):
        for path in EXPOSED:
            served = settings.metrics_enabled if path == "/metrics" else settings.docs_enabled
            assert (await client.get(path)).status_code == (200 if served else 404), path
