"""Steps the deployment tests share: bring the compose services up, and do what an operator and
a caller do first (load students, a service account and its key, a key exchanged for a JWT, a
read and a write through it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt

from app.auth.scopes import ALL_SCOPES
from tests.deploy.compose import Deployment, Service, postgres
from tests.infra import Cluster

SET_DPLANS = """mutation($n: String!, $d: [DplanInput!]!) { setDplans(netid: $n, dplans: $d) {
  taskId } }"""
TASK = "query($id: String!) { task(id: $id) { status message } }"
DPLANS = "query($n: String!) { student(netid: $n) { dplans { termCode dplanId } } }"
STUDENT = "query($n: String!) { student(netid: $n) { netid name } }"
NETIDS = [f"c{i:06d}" for i in range(5)]


def up(deployment: Deployment, cluster: Cluster, *, workers: int = 2) -> list[Service]:
    """postgres, redis, migrate, the api (2 processes) and `workers` workers, healthy."""
    postgres(deployment, cluster)
    redis = deployment.service("redis", ports=(6379,))
    redis.start(
        [*redis.argv(redis.spec["command"]), "--port", str(redis.port), "--bind", "127.0.0.1"]
    )
    migrate = deployment.service("migrate").start()
    assert migrate.proc is not None and migrate.proc.wait(60) == 0, migrate.tail()
    assert deployment.specs["migrate"]["restart"] == "no"
    api = deployment.service("api")
    api.spec["command"] = [*api.spec["command"][:-1], "2"]
    assert api.spec["command"][-2] == "--workers"
    running = [redis, api.start(), *(deployment.service("worker").start() for _ in range(workers))]
    deadline = time.monotonic() + 60
    for service in running:
        service.wait_healthy(deadline)
    return running


def load_students(deployment: Deployment) -> None:
    """`studentgraph load -` inside the deployment (`docker compose exec -T api ... < file`)."""
    students = [
        {"netid": n, "first_name": "Ada", "middle_name": None, "last_name": f"Student {i}",
         "class_year": 2027, "school_code": "UG", "ferpa_protected": False}
        for i, n in enumerate(NETIDS)
    ]  # fmt: skip
    loaded = deployment.cli("load", "-", stdin=json.dumps({"students": students}).encode())
    assert loaded.returncode == 0 and "5 students" in loaded.stdout, loaded.stderr


def service_account(deployment: Deployment) -> str:
    """`account create` and `apikey create` inside the deployment; the key (their last line)."""
    scopes = " ".join(ALL_SCOPES)
    created = deployment.cli("account", "create", "registrar-tool", "--scope", scopes)
    assert created.returncode == 0, created.stderr
    issued = deployment.cli("apikey", "create", "registrar-tool", "--note", "compose test")
    assert issued.returncode == 0, issued.stderr
    return issued.stdout.strip().splitlines()[-1]


async def exchange(client: httpx.AsyncClient, key: str) -> str:
    """POST /api/jwt with the key: an RS256 token signed with the secret's key, whose kid the
    published JWKS names."""
    answer = await client.post(
        "/api/jwt", params={"scope": " ".join(ALL_SCOPES)}, headers={"Authorization": key}
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["jwt"]
    header = jwt.get_unverified_header(token)
    published = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert header["alg"] == "RS256" and header["kid"] in [k["kid"] for k in published]
    return token


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and body.get("errors") is None, body
    return body["data"]  # type: ignore[no-any-return]


async def until(check: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while not (result := await check()):
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.1)
    return result


def dplan(term: str, code: str) -> dict[str, str]:
    return {"termCode": term, "dplanId": code, "dplanSourceId": "PHL"}


async def round_trip(client: httpx.AsyncClient) -> None:
    netid = NETIDS[0]
    task = (await gql(client, SET_DPLANS, n=netid, d=[dplan("202301", "R")]))["setDplans"]

    async def finished() -> dict[str, Any] | None:
        state = (await gql(client, TASK, id=task["taskId"]))["task"]
        return state if state["status"] in ("COMPLETE", "ERROR") else None

    assert (await until(finished, 15)) == {"status": "COMPLETE", "message": "success"}
    dplans = (await gql(client, DPLANS, n=netid))["student"]["dplans"]
    assert dplans == [{"termCode": "202301", "dplanId": "R"}]
    rest = await client.get(f"/api/tasks/{task['taskId']}")
    assert rest.status_code == 200 and rest.json()["status"] == "complete", rest.text


async def reads(client: httpx.AsyncClient) -> None:
    """The exchanged token on GraphQL and REST."""
    student = (await gql(client, STUDENT, n=NETIDS[0]))["student"]
    assert student == {"netid": NETIDS[0], "name": "Ada Student 0"}
    terms = await client.get(f"/api/students/{NETIDS[0]}/terms")
    assert terms.status_code == 200 and terms.json() == [], terms.text
    missing = await client.get("/api/students/z999999/terms")
    assert missing.status_code == 404


@contextlib.contextmanager
def deployed(operator: dict[str, str], root: Path) -> Iterator[tuple[Deployment, Cluster]]:
    """The deployment and its PostgreSQL cluster (not yet started) under `root`; every process
    stopped after, and their logs printed if the test failed."""
    deployment, cluster = Deployment(operator, root), Cluster(root)
    try:
        yield deployment, cluster
    except BaseException:
        print(deployment.tails())
        raise
    finally:
        deployment.stop_all()
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()


async def applied_tasks(client: httpx.AsyncClient, netids: Sequence[str]) -> list[str]:
    """A `setDplans` for each student, waited on until a worker completed them all; their ids."""
    ids = []
    for i, netid in enumerate(netids):
        task = await gql(client, SET_DPLANS, n=netid, d=[dplan("202301", "RLO"[i % 3])])
        ids.append(task["setDplans"]["taskId"])

    async def complete() -> bool:
        states = [(await gql(client, TASK, id=i))["task"]["status"] for i in ids]
        return states == ["COMPLETE"] * len(ids)

    await until(complete, 20)
    return ids


async def answers(
    client: httpx.AsyncClient, query: str, netids: Sequence[str], tasks: Sequence[str]
) -> dict[str, Any]:
    """What callers see (each read leaves disclosure records): `query` for each student over
    GraphQL, their terms and plans and the tasks over REST."""
    found: dict[str, Any] = {}
    for netid in netids:
        found[netid] = await gql(client, query, n=netid)
        for path in (f"/api/students/{netid}/terms", f"/api/academic/plans?netid={netid}"):
            answer = await client.get(path)
            assert answer.status_code == 200, answer.text
            found[path] = answer.json()
    for task in tasks:
        answer = await client.get(f"/api/tasks/{task}")
        assert answer.status_code == 200 and answer.json()["status"] == "complete", answer.text
        found[task] = answer.json()
    return found


def audit_records(cli: Callable[..., str], netids: Sequence[str]) -> dict[str, list[Any]]:
    """`studentgraph audit --netid N --json` (run by `cli`) for each student: its disclosure
    records."""
    found = {}
    for netid in netids:
        printed = cli("audit", "--netid", netid, "--json")
        found[netid] = [json.loads(line) for line in printed.splitlines()]
    return found
