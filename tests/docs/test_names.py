"""Every setting, route, metric and `studentgraph` command the documentation names exists in the
code: Settings' fields, the routes of the FastAPI app, the families /metrics serves, the CLI's
parsers. Each checker is also fed a made-up name, to prove it fails on one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Match

from app.cli import build_parser
from app.config import Settings
from app.main import create_app
from app.notifications import TASK_UPDATES_CHANNEL
from tools.docs.names import (
    commands_named,
    metrics_named,
    routes_named,
    settings_named,
    unknown_commands,
    unknown_metrics,
    unknown_routes,
    unknown_settings,
)

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
SETTINGS = {name.upper() for name in Settings.model_fields}
PREFIXES = {name.split("_", 1)[0] for name in SETTINGS}
# Variables of the libraries underneath, which the docs name beside ours.
LIBRARY_VARIABLES = {
    "OTEL_EXPORTER_OTLP_HEADERS",  # the OpenTelemetry SDK's own
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
}
# `studentgraph_...` names that are not metrics: the compose project's volume (`pgdata`), a
# database of the backups' restore example, and the LISTEN channel of task updates.
NOT_METRICS = {"studentgraph_pgdata", "studentgraph_restored", TASK_UPDATES_CHANNEL}


def _codes_in_app() -> set[str]:
    """UPPER_CASE string constants of the app (error codes, enum values) and its module constants:
    names the docs quote beside settings (`MAX_DOCUMENT_BYTES_EXCEEDED`, `MAX_LIST_ITEMS`)."""
    found: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        source = path.read_text()
        found.update(re.findall(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']", source))
        found.update(re.findall(r"^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:: [^=]+)? = ", source, re.M))
    return found


def _text(page: Path) -> str:
    return page.read_text()


def _routed(tmp_path: Path):
    settings = Settings(
        environment="development",
        docs_enabled=True,
        metrics_enabled=True,
        graphiql=True,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}",
    )
    app = create_app(settings)

    def routed(path: str) -> bool:
        scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
        return any(route.matches(scope)[0] != Match.NONE for route in app.router.routes)

    return routed


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_setting_named_is_a_setting(page):
    named = settings_named(_text(page), PREFIXES)
    assert unknown_settings(named, SETTINGS, _codes_in_app() | LIBRARY_VARIABLES) == set()


def test_every_route_named_is_routed(tmp_path):
    """A path is routed, or is the prefix of routes (`/api`, a static mount)."""
    is_routed = _routed(tmp_path)
    named = {path for page in PAGES for path in routes_named(_text(page))}

    def routed(path: str) -> bool:
        under = (p for p in named if p.startswith(path + "/"))
        return is_routed(path) or is_routed(path + "/") or any(map(is_routed, under))

    unknown = {
        (str(page.relative_to(ROOT)), path)
        for page in PAGES
        for path in unknown_routes(routes_named(_text(page)), routed)
    }
    assert unknown == set()


def test_every_command_named_is_a_command():
    parser = build_parser()
    unknown = {
        (str(page.relative_to(ROOT)), words)
        for page in PAGES
        for words in unknown_commands(commands_named(_text(page)), parser)
    }
    assert unknown == set()


async def test_every_metric_named_is_served(client):
    """Served by the API's /metrics (its registry and the queue's gauges read at scrape)."""
    exposition = (await client.get("/metrics")).text
    families = {family.name for family in text_string_to_metric_families(exposition)}
    assert {"studentgraph_requests", "studentgraph_task_queue_depth"} <= families
    unknown = {
        (str(page.relative_to(ROOT)), name)
        for page in PAGES
        for name in unknown_metrics(metrics_named(_text(page)) - NOT_METRICS, families)
    }
    assert unknown == set()


class TestEachCheckerFailsOnAMadeUpName:
    def test_setting(self):
        text = (
            "Set `DATABASE_POOL_SIZ` and `WORKER_TESTS_*`, not `DATABASE_URL` or `WORKER_TEST_*`."
        )
        named = settings_named(text, PREFIXES)
        assert unknown_settings(named, SETTINGS, set()) == {"DATABASE_POOL_SIZ", "WORKER_TESTS_*"}

    def test_route(self, tmp_path):
        text = (
            "`GET /api/students/{netid}/grades`, `curl $API/api/jwt`, http://127.0.0.1:8000/redocs"
        )
        named = routes_named(text)
        assert named == {"/api/students/{netid}/grades", "/api/jwt", "/redocs"}
        assert unknown_routes(named, _routed(tmp_path)) == {
            "/api/students/{netid}/grades",
            "/redocs",
        }

    def test_metric(self):
        named = metrics_named(
            "Alert on `studentgraph_request_total` and `studentgraph_requests_total`."
        )
        families = {"studentgraph_requests"}
        assert unknown_metrics(named, families) == {"studentgraph_request_total"}

    def test_command(self):
        text = "```sh\nstudentgraph serve --port 1\n.venv/bin/studentgraph acount list\n```\n" + (
            "`studentgraph account lst` and `docker compose exec api studentgraph migrat`"
        )
        assert unknown_commands(commands_named(text), build_parser()) == {
            ("acount", "list"),
            ("account", "lst"),
            ("migrat",),
        }
