"""DISCLOSURE_DURABILITY (docs/operations/durability.md), seen from outside: a throwaway primary
told to wait, at each synchronous commit, for a synchronous standby that never comes
(`synchronous_standby_names`). A commit made with `synchronous_commit = off` does not wait for
its WAL to be flushed or replicated, so under `commit` a read (its records written by the read's
own statement on the primary, or by a statement of their own when a replica served it) answers,
its records committed and visible; under `flush` the same read waits, as every commit does; and
under `commit` a mutation (a task accepted) still waits: nothing but the records is loosened."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.infra import Cluster
from tests.replicas.common import STUDENT, metric
from tests.served import Served, running
from tests.worker.processes import eventually

pytestmark = pytest.mark.slow

NETID = "f000abc"
SET_DPLANS = """mutation { setDplans(netid: "f000abc",
  dplans: [{termCode: "202301", dplanId: "R", dplanSourceId: "STU"}]) { taskId } }"""
WAITS = 3.0  # seconds: an answer not back by then is waiting for the standby


@contextlib.contextmanager
def waiting_for_a_standby(cluster: Cluster) -> Iterator[None]:
    """Every synchronous commit waits for a standby named `nobody` while inside."""
    cluster.sql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
    cluster.sql("SELECT pg_reload_conf()")
    try:
        yield
    finally:  # the waiting commits go on (and their servers can stop)
        cluster.sql("ALTER SYSTEM RESET synchronous_standby_names")
        cluster.sql("SELECT pg_reload_conf()")


def _records(cluster: Cluster, response: httpx.Response) -> str:
    request_id = response.headers["x-request-id"]
    return cluster.sql(f"SELECT count(*) FROM disclosures WHERE request_id = '{request_id}'")


async def test_commit_answers_without_waiting_for_the_flush_and_flush_waits(
    cluster: Cluster, replica: Cluster
) -> None:
    durable = Served(cluster.url, DISCLOSURE_DURABILITY="flush")
    durable.cli("migrate")
    durable.cli("demo")
    fast = Served(cluster.url, DISCLOSURE_DURABILITY="commit", DATABASE_REPLICA_URLS=replica.url)
    headers = {"Authorization": f"Bearer {durable.token}"}
    with running(durable), running(fast), waiting_for_a_standby(cluster):
        async with httpx.AsyncClient(base_url=fast.url, timeout=WAITS) as client:

            async def read() -> httpx.Response:
                response = await client.get(f"/api/students/{NETID}", headers=headers)
                assert response.status_code == 200, response.text
                return response

            # Served by the replica: its records written on the primary by a statement of
            # their own, committed without waiting.
            async def replica_reads() -> float:
                await read()
                return metric(fast, "studentgraph_reads_total", target="replica1")

            served = await eventually(replica_reads, seconds=20, every=0.2)
            on_the_replica = await read()
            assert metric(fast, "studentgraph_reads_total", target="replica1") == served + 1
            assert _records(cluster, on_the_replica) == "1"
            # Served by the primary (the replica stopped): recorded by the read's own statement.
            replica.stop()
            before = metric(fast, "studentgraph_reads_total", target="primary")
            on_the_primary = await read()
            body = {"query": STUDENT, "variables": {"n": NETID}}
            planned = await client.post("/graphql", json=body, headers=headers)
            assert planned.status_code == 200 and planned.json()["data"]["student"]
            assert metric(fast, "studentgraph_reads_total", target="primary") == before + 2
            assert _records(cluster, on_the_primary) == "1"
            assert _records(cluster, planned) == "1"
            # A task accepted under `commit` waits like any commit.
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/graphql", json={"query": SET_DPLANS}, headers=headers)
        async with httpx.AsyncClient(base_url=durable.url, timeout=WAITS) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"/api/students/{NETID}", headers=headers)
