"""studentgraph as a subgraph of a real supergraph (GRAPHQL_FEDERATION, issue 24): its SDL (its
own `_service { sdl }`) composed with a courses subgraph written for this test (@apollo/subgraph;
its Enrollment refers to our Student by netid, its Course to our SisTerm by id) by Apollo's own
composition library, and Apollo Gateway (@apollo/gateway on @apollo/server) in front of both,
forwarding the caller's Authorization header (tests/federation/gateway.mjs, the configuration
docs/operations/supergraph.md shows). Queries crossing the two subgraphs go to the gateway; what
studentgraph received is counted at studentgraph (its /metrics) and read in its disclosure
records.

The Node packages are pinned (package-lock.json) and installed by `npm ci` on first use into the
gitignored node_modules. Skipped, saying why, without Node.js and npm; a failure in CI (CI=true),
so a missing Node can never pass as a skip there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.auth.scopes import PEOPLE_PRIVATE, STUDENTS_READ, TASKS_WRITE
from app.auth.tokens import mint
from app.db import create_engine, create_sessionmaker
from app.models import Disclosure
from tests.conftest import _settings
from tests.factories import make_dplan, make_plan, make_student, make_term, student_records
from tests.npm import installed
from tests.served import Served, free_port

NPM_PROJECT = Path(__file__).resolve().parent
MIN_NODE = 20  # @apollo/server 5's engines
ROOT = NPM_PROJECT.parents[1]
ROSTER = """query Roster($id: ID!) { course(id: $id) {
  title
  enrollments { grading student { netid name
    terms { termId quarterlyTerm { id currentTermOffset } }
    dplans { termCode dplanId } } } } }"""
WITH_TERM = """query RosterAndTerm($id: ID!) { course(id: $id) {
  term { id name currentTermOffset }
  enrollments { student { netid plans { planId } } } } }"""
OPEN = [f"g{i:05d}" for i in range(30)]  # 30 students anyone with the read scope sees
HIDDEN = "g99999"  # FERPA-protected
CALLERS = ["advisor1", "registrar1"]  # whose disclosure records one test reads: no other test's
NOW = "2018-10-01T12:00:00Z"  # in Fall term 2018, 201809
COURSES = {
    "COSC-10": {"title": "Problem Solving", "term": "201809", "enrollments": []},
    "COSC-1": {"title": "Intro", "term": "201809", "enrollments": []},
}
COURSES["COSC-10"]["enrollments"] = [[n, "letter"] for n in [*OPEN, HIDDEN]]
COURSES["COSC-1"]["enrollments"] = [[n, "credit"] for n in [OPEN[0], HIDDEN, OPEN[1]]]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(f"{reason}; CI must run the supergraph test (.ci/run has Node.js and npm)")
    pytest.skip(reason)


def _node() -> str:
    """The path of `node` once the pinned packages are installed (else skipped, or failed in
    CI)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("the supergraph test needs Node.js and npm, which this machine lacks")
    assert node is not None and npm is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < MIN_NODE:
        _unavailable(f"the supergraph test needs Node.js {MIN_NODE} or later, not {major}")
    installed(NPM_PROJECT, npm, "@apollo/gateway")
    return node


async def _world(database_url: str) -> None:
    engine = create_engine(_settings(database_url))
    async with create_sessionmaker(engine)() as session:
        for netid in [*OPEN, HIDDEN]:
            protected = netid == HIDDEN
            await make_student(
                session,
                netid=netid,
                first_name="Student",
                last_name=netid,
                ferpa_protected=protected,
            )
            await make_term(session, netid, "201809")
            await make_dplan(session, netid, "201809", dplan_id="R")
        await make_plan(session, OPEN[0], id=4242)
        await session.commit()
    await engine.dispose()


async def _disclosed(database_url: str, *where: Any) -> list[Any]:
    """The students of the disclosure records `where` selects."""
    engine = create_engine(_settings(database_url))
    try:
        async with engine.connect() as connection:
            return await student_records(connection, *where)
    finally:
        await engine.dispose()


class Supergraph:
    """studentgraph (GRAPHQL_FEDERATION=true), the courses subgraph and the gateway, each a
    process of its own on a free port."""

    def __init__(self, database_url: str, node: str, tmp_path: Path) -> None:
        # Fall term 2018 is the current term (currentTermOffset 0).
        self.students = Served(database_url, GRAPHQL_FEDERATION="true", CLOCK_NOW=NOW)
        self.node, self.tmp_path = node, tmp_path
        self.courses_url = f"http://127.0.0.1:{free_port()}/"
        self.url = f"http://127.0.0.1:{free_port()}/"

    def token(self, *scopes: str, sub: str = "f003ghc") -> dict[str, str]:
        token = mint(self.students.settings, sub=sub, scopes=list(scopes))
        return {"Authorization": f"Bearer {token}"}

    def start(self) -> None:
        self.students.start()
        sdl = self.tmp_path / "students.graphql"  # what `rover subgraph introspect` would save
        sdl.write_text(self.subgraph_sdl())
        courses = self.tmp_path / "courses.json"
        courses.write_text(json.dumps(COURSES))
        self._node("courses.mjs", self.courses_url, COURSES=str(courses))
        self._node(
            "gateway.mjs",
            self.url,
            STUDENTS_URL=f"{self.students.url}/graphql",
            STUDENTS_SDL=str(sdl),
            COURSES_URL=self.courses_url,
        )

    def subgraph_sdl(self) -> str:
        headers = {"Authorization": f"Bearer {self.students.token}"}
        body = {"query": "{ _service { sdl } }"}
        answer = httpx.post(f"{self.students.url}/graphql", json=body, headers=headers).json()
        return str(answer["data"]["_service"]["sdl"])

    def _node(self, script: str, url: str, **env: str) -> None:
        port = url.rstrip("/").rsplit(":", 1)[1]
        environment = {**os.environ, "PORT": port, "NODE_ENV": "test", **env}
        process = subprocess.Popen(
            [self.node, script], cwd=NPM_PROJECT, env=environment, stdout=subprocess.DEVNULL
        )
        self.students.processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{script} exited with {process.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                # Apollo Server answers a GET without a query 400: it is up
                if httpx.get(url, headers={"Accept": "application/json"}).status_code == 400:
                    return
            time.sleep(0.2)
        raise AssertionError(f"{script} did not start")

    def stop(self) -> None:
        self.students.stop()  # its processes, and the Node ones (added to them)

    def ask(
        self, query: str, headers: dict[str, str], **variables: Any
    ) -> tuple[dict[str, Any], Any]:
        """The gateway's answer, and its query plan (Apollo's own format)."""
        plan = {
            "Apollo-Query-Plan-Experimental": "true",
            "Apollo-Query-Plan-Experimental-Format": "internal",
        }
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables},
            headers={**headers, **plan},
            timeout=60,
        )
        body: dict[str, Any] = response.json()
        return body, body.get("extensions", {}).pop("__queryPlanExperimental", None)

    def requests_received(self) -> int:
        """POSTs studentgraph's /graphql answered (its metrics), whatever their status."""
        text = httpx.get(f"{self.students.url}/metrics").text
        return int(
            sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "studentgraph_requests_total"
                and sample.labels.get("route") == "/graphql"
                and sample.labels.get("method") == "POST"
            )
        )


@pytest.fixture(scope="module")
def supergraph(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Supergraph]:
    """The three processes, once for the module's tests on each database (their starts were
    most of each test's time), on the one world the tests read: they write nothing but the
    disclosure records, which each reads by a caller of its own."""
    node = _node()
    asyncio.run(_world(module_database_url))
    graph = Supergraph(module_database_url, node, tmp_path_factory.mktemp("supergraph"))
    try:
        graph.start()
        yield graph
    finally:
        graph.stop()


def fetches(plan: Any, service: str) -> int:
    """The fetches to `service` in a query plan, wherever they sit in it."""
    if isinstance(plan, list):
        return sum(fetches(item, service) for item in plan)
    if not isinstance(plan, dict):
        return 0
    own = plan.get("kind") == "Fetch" and plan.get("serviceName") == service
    return own + sum(fetches(value, service) for value in plan.values())


def test_apollo_composes_the_committed_subgraph_with_no_hint():
    node = _node()
    env = {**os.environ, "STUDENTS_SDL": str(ROOT / "schema.subgraph.graphql")}
    done = subprocess.run(
        [node, "compose.mjs"], cwd=NPM_PROJECT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no error, no hint
    supergraph = done.stdout
    assert '@join__type(graph: STUDENTS, key: "netid", resolvable: true)' in supergraph
    assert '@join__type(graph: COURSES, key: "netid", resolvable: false)' in supergraph
    assert '@join__type(graph: COURSES, key: "id", resolvable: false)' in supergraph
    assert "_entities" not in supergraph and "_service" not in supergraph


def test_a_course_roster_crosses_the_two_subgraphs(supergraph):
    reader = supergraph.token(STUDENTS_READ, sub="advisor1")
    before = supergraph.requests_received()
    body, plan = supergraph.ask(ROSTER, reader, id="COSC-10")
    assert "errors" not in body, body
    course = body["data"]["course"]
    assert course["title"] == "Problem Solving"
    enrolled = course["enrollments"]
    assert [e["student"] and e["student"]["netid"] for e in enrolled] == [*OPEN, None]
    assert enrolled[0] == {
        "grading": "letter",
        "student": {
            "netid": OPEN[0],
            "name": f"Student {OPEN[0]}",
            "terms": [
                {"termId": "201809-U", "quarterlyTerm": {"id": "201809", "currentTermOffset": 0}}
            ],
            "dplans": [{"termCode": "201809", "dplanId": "R"}],
        },
    }
    # One fetch to studentgraph for the 31 students, and it received exactly that one.
    assert fetches(plan, "students") == 1, plan
    assert supergraph.requests_received() - before == 1

    # FERPA through the gateway: the protected student is null above (as an unknown netid
    # would be), and shown to a caller with people:private; each read recorded for its caller.
    private = supergraph.token(STUDENTS_READ, PEOPLE_PRIVATE, sub="registrar1")
    shown, _ = supergraph.ask(ROSTER, private, id="COSC-1")
    assert [e["student"]["netid"] for e in shown["data"]["course"]["enrollments"]] == [
        OPEN[0],
        HIDDEN,
        OPEN[1],
    ]
    records = asyncio.run(
        _disclosed(supergraph.students.settings.database_url, Disclosure.sub.in_(CALLERS))
    )
    assert {(r.sub, r.netid) for r in records} == {
        *(("advisor1", n) for n in OPEN),
        ("registrar1", OPEN[0]),
        ("registrar1", HIDDEN),
        ("registrar1", OPEN[1]),
    }
    assert {r.record_types for r in records} == {"dplans,student,terms"}
    assert {r.operation for r in records} == {
        "query Roster__students__1"  # the gateway names the fetch after the caller's operation
    }


def test_one_fetch_to_studentgraph_per_level_whatever_the_students(supergraph):
    """The course's term and its students are both studentgraph's: fetched in parallel, one
    fetch each, for 3 students as for 31, and studentgraph received as many requests."""
    reader = supergraph.token(STUDENTS_READ)
    counted = {}
    for course in ("COSC-1", "COSC-10"):
        before = supergraph.requests_received()
        body, plan = supergraph.ask(WITH_TERM, reader, id=course)
        assert "errors" not in body, body
        assert body["data"]["course"]["term"] == {
            "id": "201809",
            "name": "Fall Term 2018",
            "currentTermOffset": 0,
        }
        assert body["data"]["course"]["enrollments"][0]["student"]["plans"] == [{"planId": "4242"}]
        counted[course] = (fetches(plan, "students"), supergraph.requests_received() - before)
    assert counted == {"COSC-1": (2, 2), "COSC-10": (2, 2)}, plan


def test_studentgraph_s_errors_surface_with_their_codes(supergraph):
    # A token without students:read.sensitive: our FORBIDDEN, at the path of the students.
    body, _ = supergraph.ask(ROSTER, supergraph.token(TASKS_WRITE), id="COSC-10")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN", body
    assert STUDENTS_READ in error["message"]
    assert body["data"]["course"]["title"] == "Problem Solving"
    assert all(e["student"] is None for e in body["data"]["course"]["enrollments"])

    # No token: the gateway forwards none, and studentgraph refuses the fetch as it refuses any
    # request without one (401, UNAUTHENTICATED); nothing of a student is shown.
    before = supergraph.requests_received()
    body, _ = supergraph.ask(ROSTER, {}, id="COSC-10")
    assert supergraph.requests_received() - before == 1
    (error,) = body["errors"]
    assert error == {"message": "401: Unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}
    assert all(e["student"] is None for e in body["data"]["course"]["enrollments"])
