"""Many processes, one system (docs/operations/processes.md): three API processes and two
workers, all through PgBouncer in transaction pooling (LISTEN straight to PostgreSQL), a
throwaway primary and a streaming replica serving the reads, the limits shared through Redis;
every process real, started here. A subscriber on one API process sees a task accepted on
another complete (the worker that applied it and the subscriber's process hear of it by NOTIFY:
the poll is a minute); a caller's request rate is one budget across the processes; killing an API
process (SIGKILL) and stopping the replica under load fail no request to the other processes;
SIGTERM to an API process lets its in-flight requests finish (200) and closes its WebSockets with
1001 (Going Away)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.domain.demo import demo_document
from tests.hostile.instances import REDIS_URL, redis_up
from tests.infra import Cluster, PgBouncer, bouncing
from tests.served import Served
from tests.worker.processes import BASE_ENV, WorkerProcess, eventually

pytestmark = pytest.mark.slow

DOCUMENT = demo_document()
VISIBLE = sorted(s["netid"] for s in DOCUMENT["students"] if not s["ferpa_protected"])
LAST_NAMES = {s["netid"]: s["last_name"] for s in DOCUMENT["students"]}
BURST = 60  # a caller's requests at once (RATE_LIMIT_BURST), then one a second
ENV = {
    "DATABASE_POOLER": "transaction",
    "DATABASE_POOL_SIZE": "4",
    "WORKER_IN_PROCESS": "false",
    "WORKER_POLL_SECONDS": "60",  # a task completes in time only if NOTIFY is heard
    "WORKER_TEST_APPLY_DELAY_SECONDS": "1.5",  # the subscriber sees the task before it ends
    "REDIS_URL": REDIS_URL,
    "RATE_LIMIT_PER_SECOND": "1",
    "RATE_LIMIT_BURST": str(BURST),
    "LOG_LEVEL": "WARNING",
}
STUDENT = "query($n: String!) { student(netid: $n) { netid lastName } }"
SET_DPLANS = """mutation($netid: String!) { setDplans(netid: $netid,
  dplans: [{termCode: "202301", dplanId: "R", dplanSourceId: "STU"}]) { taskId } }"""
FOLLOW = "subscription($id: String!) { taskUpdated(taskId: $id) { status } }"


class System:
    """The three APIs and two workers, on `bouncer` (and `replica` for reads)."""

    def __init__(self, cluster: Cluster, replica: Cluster, bouncer: PgBouncer) -> None:
        env = {**ENV, "DATABASE_LISTEN_URL": cluster.url, "DATABASE_REPLICA_URLS": replica.url}
        self.apis = [Served(bouncer.url, **env) for _ in range(3)]
        self.worker_env = {**BASE_ENV, **env}
        self.workers: list[WorkerProcess] = []

    def start(self, bouncer: PgBouncer) -> None:
        self.apis[0].cli("migrate")
        bouncer.admin("RECONNECT")  # the role's statement timeout, on every server connection
        self.apis[0].cli("demo")
        self.workers = [WorkerProcess(self.apis[0].env["DATABASE_URL"], 2, **self.worker_env)]
        self.workers.append(WorkerProcess(self.apis[0].env["DATABASE_URL"], 2, **self.worker_env))
        for api in self.apis:
            api.start()

    def stop(self) -> None:
        for api in self.apis:
            api.stop()
        for worker in self.workers:
            worker.stop()


@contextlib.contextmanager
def running(cluster: Cluster, replica: Cluster) -> Iterator[tuple[System, PgBouncer]]:
    with bouncing(cluster, default_pool_size=6) as bouncer:
        system = System(cluster, replica, bouncer)
        try:
            system.start(bouncer)
            yield system, bouncer
        finally:
            system.stop()


def caller(api: Served) -> dict[str, str]:
    """A caller of its own (every scope), whose rate budget no other test has touched."""
    token = mint(api.settings, sub=f"caller-{uuid.uuid4().hex[:12]}", scopes=list(ALL_SCOPES))
    return {"Authorization": f"Bearer {token}"}


async def _read(client: httpx.AsyncClient, headers: dict[str, str], i: int) -> None:
    """A read by GraphQL or REST, checked against the demo document (any failure fails it)."""
    netid = VISIBLE[i % len(VISIBLE)]
    if i % 2:
        response = await client.get(f"/api/students/{netid}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["last_name"] == LAST_NAMES[netid], response.text
        return
    body = {"query": STUDENT, "variables": {"n": netid}}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert response.json()["data"]["student"]["lastName"] == LAST_NAMES[netid]


async def _accepted(api: Served, headers: dict[str, str], netid: str) -> str:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        body = {"query": SET_DPLANS, "variables": {"netid": netid}}
        response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return str(response.json()["data"]["setDplans"]["taskId"])


async def _followed(api: Served, headers: dict[str, str], task_id: str) -> list[str]:
    ws = WebsocketsTransport(
        url=api.url.replace("http", "ws") + "/graphql", init_payload={"headers": headers}
    )
    async with Client(transport=ws) as session:
        follow = GraphQLRequest(FOLLOW, variable_values={"id": task_id})
        return [u["taskUpdated"]["status"] async for u in session.subscribe(follow)]


async def a_subscriber_sees_a_task_accepted_elsewhere_complete(apis: list[Served]) -> None:
    headers = caller(apis[0])
    task_id = await _accepted(apis[1], headers, VISIBLE[0])
    statuses = await asyncio.wait_for(_followed(apis[0], headers, task_id), 60)
    assert statuses[-1] == "COMPLETE", statuses
    assert statuses[0] in ("ACCEPTED", "RUNNING") and set(statuses) <= {
        "ACCEPTED",
        "RUNNING",
        "COMPLETE",
    }, statuses


async def the_rate_limit_is_shared(apis: list[Served]) -> None:
    """30 requests a process, 90 in all, from one caller whose burst is 60: each process alone
    would take its 30, but one budget across them refuses about a third."""
    headers = caller(apis[0])
    statuses: list[int] = []

    async def send(api: Served) -> None:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            for i in range(30):
                netid = VISIBLE[i % len(VISIBLE)]
                response = await client.get(f"/api/students/{netid}", headers=headers)
                statuses.append(response.status_code)

    await asyncio.gather(*(send(api) for api in apis))
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(429) >= 20, statuses
    assert statuses.count(200) <= BURST + 10, statuses


async def killing_an_api_and_the_replica_fails_no_request_elsewhere(
    system: System, replica: Cluster
) -> None:
    survivors, doomed = system.apis[:2], system.apis[2]
    done = {"reads": 0}
    killed = asyncio.Event()

    async def reader(api: Served, n: int) -> None:
        headers = caller(api)
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            for i in range(40):  # within the caller's burst
                await _read(client, headers, n * 40 + i)
                done["reads"] += 1

    async def doomed_load() -> None:
        headers = caller(doomed)
        with contextlib.suppress(httpx.HTTPError):  # requests in flight there may fail
            async with httpx.AsyncClient(base_url=doomed.url, timeout=30) as client:
                while not killed.is_set():
                    await client.get(f"/api/students/{VISIBLE[0]}", headers=headers)

    async def kill() -> None:
        await eventually(lambda: asyncio.sleep(0, done["reads"] >= 40), seconds=60)
        doomed.processes[0].send_signal(signal.SIGKILL)
        killed.set()
        await eventually(lambda: asyncio.sleep(0, done["reads"] >= 100), seconds=60)
        await asyncio.to_thread(replica.stop)

    readers = [reader(api, n) for n, api in enumerate(survivors * 2)]
    await asyncio.gather(kill(), doomed_load(), *readers)
    assert done["reads"] == 160


async def sigterm_finishes_requests_and_closes_websockets_1001(
    system: System, cluster: Cluster
) -> None:
    """Reads held by a lock on the primary are in flight when SIGTERM arrives; the lock is let go
    after it: they answer 200. An open WebSocket is closed with 1001."""
    api = system.apis[1]
    headers = caller(api)
    ws = await websockets.connect(
        api.url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    locker = await asyncpg.connect(cluster.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            lock = locker.transaction()
            await lock.start()
            await locker.execute("LOCK TABLE students IN ACCESS EXCLUSIVE MODE")
            in_flight = [
                asyncio.create_task(client.get(f"/api/students/{netid}", headers=headers))
                for netid in VISIBLE[:3]
            ]
            await eventually(lambda: _waiting(locker, 3), seconds=20, every=0.1)
            api.processes[0].send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            await lock.rollback()
            answers = await asyncio.gather(*in_flight)
    finally:
        await locker.close()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert [a.json()["netid"] for a in answers] == VISIBLE[:3]
    assert await asyncio.to_thread(api.processes[0].wait, 30) in (0, -signal.SIGTERM)


async def _waiting(locker: asyncpg.Connection, count: int) -> bool:
    waiting = await locker.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    )
    return int(waiting) >= count


async def test_three_apis_two_workers_pgbouncer_a_primary_and_a_replica(
    cluster: Cluster, replica: Cluster
) -> None:
    if not redis_up():
        pytest.skip("needs Redis on 127.0.0.1:6379")
    with running(cluster, replica) as (system, _bouncer):
        await a_subscriber_sees_a_task_accepted_elsewhere_complete(system.apis)
        await the_rate_limit_is_shared(system.apis)
        await killing_an_api_and_the_replica_fails_no_request_elsewhere(system, replica)
        await sigterm_finishes_requests_and_closes_websockets_1001(system, cluster)
