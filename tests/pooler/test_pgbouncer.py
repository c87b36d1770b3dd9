"""Everything through PgBouncer in transaction pooling (docs/operations/pgbouncer.md): Debian's
PgBouncer of the test's own, 3 server connections for some twenty clients (the API's pool of 8,
two workers', the CLI's), in front of a throwaway PostgreSQL. `migrate` and `demo` (the CLI),
then, all at once: reads over GraphQL and REST, each answer compared with the demo document;
writes (PATCH and setDplans) applied by two `studentgraph worker` processes; a taskUpdated
subscription that sees its task complete; a found set paged through; and `migrate` and `demo`
again. Workers and the API hear of tasks on LISTEN connections of their own
(DATABASE_LISTEN_URL, PostgreSQL itself): their poll is a minute, so a task completes in time
only if notifications arrive. Afterwards no server connection holds a prepared statement, and
the statement timeout (the role's default in the database, set by `migrate`) stops a statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import defaultdict
from typing import Any

import asyncpg
import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from app.db import transaction_pooled
from app.domain.demo import demo_document
from tests.infra import Cluster, PgBouncer
from tests.served import ROOT, Served, running
from tests.worker.processes import BASE_ENV, WorkerProcess, eventually

pytestmark = pytest.mark.slow

TIMEOUT_MS = 3000
# What every process of the test runs with, on top of the test environment.
POOLED = {
    "DATABASE_POOLER": "transaction",
    "DATABASE_POOL_SIZE": "8",
    "DATABASE_STATEMENT_TIMEOUT_MS": str(TIMEOUT_MS),
    "WORKER_IN_PROCESS": "false",
    "WORKER_POLL_SECONDS": "60",  # a task completes in time only if LISTEN hears of it
    "LOG_LEVEL": "WARNING",
}
DOCUMENT = demo_document()
STUDENTS = {s["netid"]: s for s in DOCUMENT["students"]}
READERS, READS_EACH = 8, 24
STUDENT = """query($n: String!) { student(netid: $n) { netid firstName lastName classYear
  terms { id } plans { planId } dplans { termCode dplanId } } }"""
SET_DPLANS = """mutation($netid: String!, $dplans: [DplanInput!]!) {
  setDplans(netid: $netid, dplans: $dplans) { taskId } }"""
FOLLOW = "subscription($id: String!) { taskUpdated(taskId: $id) { status } }"


def _by_netid(records: list[dict[str, Any]], key: str, field: str) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for record in records:
        grouped[record[key]].append(str(record[field]))
    return {netid: sorted(values) for netid, values in grouped.items()}


TERMS = _by_netid(DOCUMENT["student_terms"], "netid", "id")
PLANS = _by_netid(DOCUMENT["plans"], "student_netid", "id")
DEMO_DPLANS = {
    s["netid"]: {d["term_code"]: d for d in s.get("dplans", [])} for s in STUDENTS.values()
}
DEMO_DPLANS["f0027k4"] = {d["term_code"]: d for d in DOCUMENT["dplans"]}


class Deployment:
    """The API and two workers through `bouncer`, LISTEN on `cluster` itself."""

    def __init__(self, cluster: Cluster, bouncer: PgBouncer) -> None:
        self.cluster, self.bouncer = cluster, bouncer
        self.api = Served(bouncer.url, DATABASE_LISTEN_URL=cluster.url, **POOLED)
        self.headers = {"Authorization": f"Bearer {self.api.token}"}

    def cli(self, *args: str) -> str:
        command = [sys.executable, "-m", "app", *args]
        done = subprocess.run(
            command, cwd=ROOT, env=self.api.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{args}: {done.stderr}"
        return done.stdout

    def workers(self) -> list[WorkerProcess]:
        env = {**BASE_ENV, **POOLED, "DATABASE_LISTEN_URL": self.cluster.url}
        return [WorkerProcess(self.bouncer.url, 2, **env) for _ in range(2)]


def _expected_student(netid: str, dplans: dict[str, str]) -> dict[str, Any]:
    s = STUDENTS[netid]
    return {
        "netid": netid,
        "firstName": s["first_name"],
        "lastName": s["last_name"],
        "classYear": s["class_year"],
        "terms": TERMS.get(netid, []),
        "plans": PLANS.get(netid, []),
        "dplans": dplans,
    }


def _shown(student: dict[str, Any]) -> dict[str, Any]:
    """A student as GraphQL answered, in `_expected_student`'s shape."""
    return {
        **student,
        "terms": sorted(t["id"] for t in student["terms"]),
        "plans": sorted(p["planId"] for p in student["plans"]),
        "dplans": {d["termCode"]: d["dplanId"] for d in student["dplans"]},
    }


async def _graphql(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, **variables: Any
) -> Any:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = response.json()
    assert response.status_code == 200 and body.get("errors") is None, body
    return body["data"]


class Reads:
    """Readers of students no write touches: each answer is the demo document's."""

    def __init__(
        self, client: httpx.AsyncClient, headers: dict[str, str], netids: list[str]
    ) -> None:
        self.client, self.headers, self.netids = client, headers, netids
        self.checked = 0

    async def reader(self, n: int) -> None:
        for i in range(READS_EACH):
            netid = self.netids[(n * READS_EACH + i) % len(self.netids)]
            if i % 3 == 0:
                data = await _graphql(self.client, self.headers, STUDENT, n=netid)
                dplans = {t: d["dplan_id"] for t, d in DEMO_DPLANS.get(netid, {}).items()}
                assert _shown(data["student"]) == _expected_student(netid, dplans)
            else:
                kind = "terms" if i % 3 == 1 else "plans"
                response = await self.client.get(
                    f"/api/students/{netid}/{kind}", headers=self.headers
                )
                assert response.status_code == 200, response.text
                expected = (TERMS if kind == "terms" else PLANS).get(netid, [])
                assert sorted(str(r["id"]) for r in response.json()) == expected
            self.checked += 1


class Writes:
    """One write per student (half PATCH, half setDplans), to terms the demo gives no D-plan (a
    `demo` running meanwhile leaves them be); each task must complete, and its D-plans be read."""

    CODES = tuple(c["id"] for c in DOCUMENT["dplan_codes"])

    def __init__(
        self, client: httpx.AsyncClient, headers: dict[str, str], netids: list[str]
    ) -> None:
        self.client, self.headers, self.netids = client, headers, netids
        terms = sorted(t["id"] for t in DOCUMENT["sis_terms"])
        self.terms = {n: [t for t in terms if t not in DEMO_DPLANS.get(n, {})][:2] for n in netids}
        self.tasks: dict[str, str] = {}  # netid -> task id

    def wanted(self, i: int, netid: str) -> dict[str, str]:
        return {
            term: self.CODES[(i + k) % len(self.CODES)] for k, term in enumerate(self.terms[netid])
        }

    async def write(self, i: int, netid: str) -> None:
        dplans = self.wanted(i, netid)
        if i % 2:
            body = {
                "dplans": [
                    {"term_code": t, "dplan_id": c, "dplan_source_id": "PHL"}
                    for t, c in dplans.items()
                ]
            }
            response = await self.client.patch(
                f"/api/students/{netid}", json=body, headers=self.headers
            )
            assert response.status_code == 202, response.text
            self.tasks[netid] = response.headers["location"].rsplit("/", 1)[1]
        else:
            inputs = [
                {"termCode": t, "dplanId": c, "dplanSourceId": "PHL"} for t, c in dplans.items()
            ]
            data = await _graphql(self.client, self.headers, SET_DPLANS, netid=netid, dplans=inputs)
            self.tasks[netid] = data["setDplans"]["taskId"]

    async def all_applied(self) -> None:
        async def complete() -> bool:
            for task_id in self.tasks.values():
                response = await self.client.get(f"/api/tasks/{task_id}", headers=self.headers)
                assert response.status_code == 200, response.text
                assert response.json()["status"] in ("accepted", "running", "complete"), (
                    response.text
                )
                if response.json()["status"] != "complete":
                    return False
            return True

        await asyncio.gather(*(self.write(i, n) for i, n in enumerate(self.netids)))
        await eventually(complete, seconds=40, every=0.2)
        for i, netid in enumerate(self.netids):
            data = await _graphql(self.client, self.headers, STUDENT, n=netid)
            demo = {t: d["dplan_id"] for t, d in DEMO_DPLANS.get(netid, {}).items()}
            assert _shown(data["student"]) == _expected_student(
                netid, {**demo, **self.wanted(i, netid)}
            )


async def _followed_to_completion(api: Served, headers: dict[str, str], netid: str) -> list[str]:
    """setDplans, then taskUpdated over WebSocket until the task ends: the statuses seen."""
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        dplan = [{"termCode": "202301", "dplanId": "R", "dplanSourceId": "STU"}]
        data = await _graphql(client, headers, SET_DPLANS, netid=netid, dplans=dplan)
    ws = WebsocketsTransport(
        url=api.url.replace("http", "ws") + "/graphql", init_payload={"headers": headers}
    )
    async with Client(transport=ws) as session:
        follow = GraphQLRequest(FOLLOW, variable_values={"id": data["setDplans"]["taskId"]})
        return [u["taskUpdated"]["status"] async for u in session.subscribe(follow)]


async def _paged(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    """Every plan, seven a page, through the found set the first page made."""
    first = await client.get("/api/academic/plans?pagesize=7", headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["x-total-count"] == str(len(DOCUMENT["plans"]))
    ids = [str(p["id"]) for p in first.json()]
    key, page = first.headers["x-request-id"], 2
    while True:
        url = f"/api/academic/plans?continuation_key={key}&page={page}&pagesize=7"
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        if not response.json():
            return ids
        ids += [str(p["id"]) for p in response.json()]
        page += 1


# What a session may keep from one transaction to the next, read on a server connection.
SESSION_STATE = """SELECT pg_backend_pid() AS pid,
  (SELECT count(*) FROM pg_prepared_statements) AS prepared_statements,
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())
    AS advisory_locks,
  (SELECT count(*) FROM pg_listening_channels()) AS listening,
  (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temporary_tables,
  (SELECT count(*) FROM pg_cursors WHERE name <> '') AS cursors,
  (SELECT string_agg(name, ' ' ORDER BY name) FROM pg_settings WHERE source = 'session')
    AS settings"""


# What each server connection must be left with after the run.
NO_SESSION_STATE = {
    "prepared_statements": 0,
    "advisory_locks": 0,
    "listening": 0,
    "temporary_tables": 0,
    "cursors": 0,
}
# Settings a session SET there (None: none). asyncpg's type introspection (once per connection
# per type it has no codec for, bigint[] here) turns `jit` off and back on by two statements
# outside a transaction, which a pooler may send to different server connections, so `jit` may
# be left set (docs/operations/pgbouncer.md).
SESSION_SETTINGS_LEFT = {None, "jit"}


async def _session_state_of_every_server_connection(bouncer: PgBouncer) -> list[dict[str, Any]]:
    """Three transactions at once through the pooler hold its three server connections: what
    each one keeps of the sessions that ran on it (SESSION_STATE)."""
    url = bouncer.url.replace("postgresql+asyncpg", "postgresql")
    connections = [await asyncpg.connect(url, **transaction_pooled()) for _ in range(3)]
    try:
        for connection in connections:
            await connection.execute("BEGIN")
        held = [dict(await connection.fetchrow(SESSION_STATE)) for connection in connections]
        assert len({h.pop("pid") for h in held}) == 3, "not three server connections"
        return held
    finally:
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.close()


async def test_the_api_the_workers_and_the_cli_through_pgbouncer(cluster, pgbouncer):
    deployment = Deployment(cluster, pgbouncer)
    deployment.cli("migrate")
    # The server connections PgBouncer opened before `migrate` set the role's statement timeout
    # keep the one they had: what an operator does after changing it (docs/operations/pgbouncer.md).
    pgbouncer.admin("RECONNECT")
    deployment.cli("demo")
    assert cluster.sql("SHOW statement_timeout") == f"{TIMEOUT_MS // 1000}s"
    workers = deployment.workers()
    netids = sorted(STUDENTS)
    written, read = netids[:8], netids[9:]
    try:
        with running(deployment.api) as api:
            headers = deployment.headers
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
                reads = Reads(client, headers, read)
                writes = Writes(client, headers, written)
                followed, paged, *_ = await asyncio.gather(
                    _followed_to_completion(api, headers, netids[8]),
                    _paged(client, headers),
                    writes.all_applied(),
                    asyncio.to_thread(deployment.cli, "migrate"),
                    asyncio.to_thread(deployment.cli, "demo"),
                    *(reads.reader(n) for n in range(READERS)),
                )
                assert reads.checked == READERS * READS_EACH
                assert followed[-1] == "COMPLETE" and set(followed) <= {
                    "ACCEPTED",
                    "RUNNING",
                    "COMPLETE",
                }
                assert sorted(paged) == sorted(str(p["id"]) for p in DOCUMENT["plans"])

                held = await _session_state_of_every_server_connection(pgbouncer)
                assert {h.pop("settings") for h in held} <= SESSION_SETTINGS_LEFT, held
                assert all(h == NO_SESSION_STATE for h in held), held

                await _stopped_past_the_timeout(cluster, client, headers)
    finally:
        for worker in workers:
            worker.stop()


async def _stopped_past_the_timeout(
    cluster: Cluster, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """A read waiting on a lock is stopped by the role's statement timeout: 503 TIMEOUT."""
    url = cluster.url.replace("postgresql+asyncpg", "postgresql")
    locker = await asyncpg.connect(url)
    try:
        async with locker.transaction():
            await locker.execute("LOCK TABLE students IN ACCESS EXCLUSIVE MODE")
            response = await client.get("/api/students/f000abc", headers=headers)
    finally:
        await locker.close()
    assert response.status_code == 503 and response.json()["code"] == "TIMEOUT", response.text
