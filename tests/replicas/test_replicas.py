"""Planned reads on a real streaming replica (DATABASE_REPLICA_URLS; docs/operations/replicas.md):
a throwaway primary and a `pg_basebackup` replica of it (tests/infra.py), the API started on
both. Reads run on the replica while it is usable, their disclosure records written to the
primary before the answer; a FERPA-protected student is as missing there as on the primary; a
replica that stops under load fails no read (they go on on the primary); one behind by more
than DATABASE_REPLICA_MAX_LAG_SECONDS is skipped until it catches up; a task is read from the
primary (read-your-writes); /readyz and `ready` refuse a database that does not accept writes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.domain.demo import demo_document
from tests.infra import Cluster
from tests.replicas.common import STUDENT, cli, metric, reader_headers, replicated_api
from tests.served import Served, running
from tests.worker.processes import eventually

pytestmark = pytest.mark.slow

DOCUMENT = demo_document()
STUDENTS = {s["netid"]: s for s in DOCUMENT["students"]}
VISIBLE = sorted(n for n, s in STUDENTS.items() if not s["ferpa_protected"])
PROTECTED = sorted(n for n, s in STUDENTS.items() if s["ferpa_protected"])
SET_DPLANS = """mutation($netid: String!) { setDplans(netid: $netid,
  dplans: [{termCode: "202301", dplanId: "R", dplanSourceId: "STU"}]) { taskId } }"""


async def _read(client: httpx.AsyncClient, headers: dict[str, str], i: int) -> None:
    """One read, GraphQL or REST by turn, checked against the demo document."""
    netid = VISIBLE[i % len(VISIBLE)]
    if i % 2:
        response = await client.get(f"/api/students/{netid}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["netid"] == netid
        return
    body = {"query": STUDENT, "variables": {"n": netid}}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert response.json()["data"]["student"]["lastName"] == STUDENTS[netid]["last_name"]


def _replica_reads(api: Served) -> float:
    return metric(api, "studentgraph_reads_total", target="replica1")


def _primary_reads(api: Served) -> float:
    return metric(api, "studentgraph_reads_total", target="primary")


async def _on_the_replica(api: Served, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Reads until the replica serves them (its first probe may find it still catching up)."""

    async def served_there() -> bool:
        await _read(client, headers, 0)
        return _replica_reads(api) > 0

    await eventually(served_there, seconds=30, every=0.2)


def _disclosures_of(cluster: Cluster, request_id: str) -> str:
    query = f"SELECT string_agg(array_to_string(netids, ','), ';') FROM disclosures WHERE request_id = '{request_id}'"  # noqa: E501
    return cluster.sql(query)


async def test_reads_run_on_the_replica_and_their_disclosures_are_on_the_primary(
    cluster: Cluster, replica: Cluster
) -> None:
    api = replicated_api(cluster, replica)
    with running(api):
        headers = {"Authorization": f"Bearer {api.token}"}  # people:private: sees everyone
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            await _on_the_replica(api, client, headers)
            before = _replica_reads(api), _primary_reads(api)
            netid = PROTECTED[0]
            rest = await client.get(f"/api/students/{netid}", headers=headers)
            body = {"query": STUDENT, "variables": {"n": VISIBLE[1]}}
            graphql = await client.post("/graphql", json=body, headers=headers)
            page = await client.get("/api/academic/plans?pagesize=5", headers=headers)
        assert rest.status_code == 200 and rest.json()["netid"] == netid
        assert graphql.json()["data"]["student"]["netid"] == VISIBLE[1]
        assert page.status_code == 200 and len(page.json()) == 5
        assert _replica_reads(api) == before[0] + 3 and _primary_reads(api) == before[1]
        # Recorded on the primary (the replica refuses writes) before each answer left.
        assert _disclosures_of(cluster, rest.headers["x-request-id"]) == netid
        assert _disclosures_of(cluster, graphql.headers["x-request-id"]) == VISIBLE[1]
        shown = {p["student_netid"] for p in page.json()}
        recorded = _disclosures_of(cluster, page.headers["x-request-id"])
        assert shown <= set(recorded.replace(";", ",").split(","))
        # The found set the page kept is on the primary, and its next page reads.
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            key = page.headers["x-request-id"]
            url = f"/api/academic/plans?continuation_key={key}&page=2&pagesize=5"
            second = await client.get(url, headers=headers)
        assert second.status_code == 200 and len(second.json()) == 5
        assert metric(api, "studentgraph_replica_lag_seconds", replica="replica1") < 2


async def test_a_protected_student_is_as_missing_on_the_replica(
    cluster: Cluster, replica: Cluster
) -> None:
    api = replicated_api(cluster, replica)
    with running(api):
        headers = reader_headers(api)  # no people:private
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            await _on_the_replica(api, client, headers)
            before = _replica_reads(api)
            answers = {}
            for netid in (PROTECTED[0], "f0zzzzz"):  # protected; unknown
                rest = await client.get(f"/api/students/{netid}", headers=headers)
                body = {"query": STUDENT, "variables": {"n": netid}}
                graphql = await client.post("/graphql", json=body, headers=headers)
                plans = await client.get(f"/api/students/{netid}/plans", headers=headers)
                answers[netid] = (
                    rest.status_code,
                    rest.json()["code"],
                    rest.json()["message"].replace(netid, "N"),
                    graphql.json()["data"],
                    plans.status_code,
                    plans.json()["message"].replace(netid, "N"),
                )
                for response in (rest, graphql, plans):
                    assert _disclosures_of(cluster, response.headers["x-request-id"]) == ""
        assert answers[PROTECTED[0]] == answers["f0zzzzz"]
        assert answers["f0zzzzz"][:2] == (404, "NOT_FOUND")
        assert answers["f0zzzzz"][3] == {"student": None}
        assert _replica_reads(api) == before + 6


async def test_a_replica_stopped_under_load_fails_no_read(
    cluster: Cluster, replica: Cluster
) -> None:
    api = replicated_api(cluster, replica)
    with running(api):
        headers = reader_headers(api)
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            await _on_the_replica(api, client, headers)
            stopped = asyncio.Event()
            done = {"before": 0, "after": 0}

            async def reader(n: int) -> None:
                i = n
                while done["after"] < 120:
                    await _read(client, headers, i)
                    done["after" if stopped.is_set() else "before"] += 1
                    i += 4

            async def stop_the_replica() -> None:
                await eventually(lambda: asyncio.sleep(0, done["before"] >= 60), seconds=60)
                await asyncio.to_thread(replica.stop)  # fast shutdown: in-flight reads cut off
                stopped.set()

            await asyncio.gather(stop_the_replica(), *(reader(n) for n in range(4)))
            # Every read succeeded (`_read` checks each); those after the stop, on the primary.
            on_the_replica = _replica_reads(api)
            before = _primary_reads(api)
            for i in range(8):
                await _read(client, headers, i)
        assert on_the_replica >= 30
        assert _replica_reads(api) == on_the_replica and _primary_reads(api) == before + 8


async def test_a_lagging_replica_is_skipped_until_it_catches_up(
    cluster: Cluster, replica: Cluster
) -> None:
    api = replicated_api(cluster, replica)
    with running(api):
        headers = reader_headers(api)
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            await _on_the_replica(api, client, headers)
            replica.sql("SELECT pg_wal_replay_pause()")
            cluster.sql("CREATE TABLE moved_on (id int)")  # WAL the replica does not replay

            async def skipped() -> bool:
                before = _primary_reads(api)
                await _read(client, headers, 1)
                return _primary_reads(api) == before + 1

            await eventually(skipped, seconds=15, every=0.2)
            assert metric(api, "studentgraph_replica_lag_seconds", replica="replica1") > 2
            # A task accepted now is read at once, from the primary: the replica has not
            # replayed it (and will not until resumed), yet the task is there.
            for netid in VISIBLE[:5]:
                body = {"query": SET_DPLANS, "variables": {"netid": netid}}
                accepted = await client.post(
                    "/graphql", json=body, headers={"Authorization": f"Bearer {api.token}"}
                )
                task_id = accepted.json()["data"]["setDplans"]["taskId"]
                task = await client.get(f"/api/tasks/{task_id}", headers=headers)
                assert task.status_code == 200, task.text
            replica.sql("SELECT pg_wal_replay_resume()")
            before = _replica_reads(api)

            async def back() -> bool:
                await _read(client, headers, 2)
                return _replica_reads(api) > before

            await eventually(back, seconds=15, every=0.2)


def test_readiness_needs_a_database_that_accepts_writes(cluster: Cluster, replica: Cluster) -> None:
    api = replicated_api(cluster, replica)
    assert cli(api, "ready").returncode == 0
    on_the_replica = cli(api, "ready", DATABASE_URL=replica.url)
    assert on_the_replica.returncode == 1
    assert "read-only" in on_the_replica.stderr
    misplaced = Served(replica.url)  # an API whose DATABASE_URL is the replica
    misplaced._start("serve", "--port", misplaced.url.rsplit(":", 1)[1])
    try:

        async def answered() -> int:
            async with httpx.AsyncClient(timeout=2) as client:
                try:
                    return (await client.get(f"{misplaced.url}/readyz")).status_code
                except httpx.HTTPError:
                    return 0

        status = asyncio.run(eventually(answered, seconds=60, every=0.3))
        assert status == 503
    finally:
        misplaced.stop()
