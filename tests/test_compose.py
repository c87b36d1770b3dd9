"""The compose deployment, run here as processes (this machine has no Docker engine).

`docker-compose.yml` is read as compose reads it (the `x-app` anchor merged, `${VAR:-default}`
and `${VAR:?message}` interpolated from an operator's environment) and each service's command
line and environment are started as processes, with the Dockerfile's ENV beneath them, against
a fresh PostgreSQL database this test creates: the one-shot `migrate` (must exit 0), the `api`
(`--workers 2` here), two `worker`s. Each is waited on by running its own healthcheck `test`
command. Then a `setDplans` round trip goes through them, every HTTP process's /metrics is
scraped, and all are stopped with SIGTERM within their `stop_grace_period`: tasks accepted just
before the workers stop are all there afterwards, none left running, and all complete once a
worker runs again.

What is adapted, and only that: the container's port (8000) becomes a free port on 127.0.0.1 in
the command line and in the healthcheck's URL, `--host 0.0.0.0` becomes 127.0.0.1, DATABASE_URL
(compose's names its own `postgres` service) names the test's database, and `studentgraph` /
`python` are this virtualenv's. PostgreSQL only: skipped on SQLite-only runs."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models import Task
from tests.conftest import _admin, _admin_url
from tests.factories import make_student

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONTAINER_PORT = "8000"
pytestmark = pytest.mark.slow  # about 25 s; in `make test` all the same

# The setting that gives a worker its own /healthz and /metrics port: each worker here gets a
# free port, and its healthcheck URL and /metrics are used as the api's are.
WORKER_PORT_SETTING: str | None = "WORKER_METRICS_PORT"


@pytest.fixture
def database() -> Iterator[str]:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the compose deployment runs on PostgreSQL: set TEST_DATABASE_URL")
    admin = _admin_url()
    name = f"sg_compose_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- reading the compose file and the Dockerfile ----------------------------------------------

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        found = env.get(name, "")
        if operator == "?" and not found:
            raise AssertionError(f"compose would refuse to start: {name}: {argument}")
        return found or (argument if operator == "-" else "")

    return _VARIABLE.sub(value, text)


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (PATH aside: the virtualenv is this one)."""
    stages = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").split("\nFROM ")
    env: dict[str, str] = {}
    for line in stages[-1].splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())  # type: ignore[arg-type]
    env.pop("PATH", None)
    return env


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded["services"]


def seconds(duration: str) -> float:
    """Compose durations as this file writes them (`30s`, `1m`)."""
    number, unit = re.fullmatch(r"(\d+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return float(number) * (60 if unit == "m" else 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One compose service run as a process."""

    def __init__(self, name: str, spec: dict[str, Any], env: dict[str, str], logs: Path) -> None:
        self.name, self.spec, self.env = name, spec, env
        self.port = free_port() if "ports" in spec or name == "api" else None
        self.log = (logs / f"{name}-{secrets.token_hex(2)}.log").open("wb")
        self.proc: subprocess.Popen[bytes] | None = None

    def adapt(self, argv: list[str]) -> list[str]:
        out = []
        for arg in argv:
            arg = {"studentgraph": str(BIN / "studentgraph"), "python": sys.executable}.get(
                arg, arg
            )
            if self.port is not None:
                arg = re.sub(rf"(127\.0\.0\.1|localhost|api):{CONTAINER_PORT}\b", self.url, arg)
                arg = str(self.port) if arg == CONTAINER_PORT else arg
            out.append("127.0.0.1" if arg == "0.0.0.0" else arg)
        return out

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Service:
        self.proc = subprocess.Popen(
            self.adapt(self.spec["command"]),
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def healthcheck(self) -> list[str]:
        test = self.spec["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            return ["sh", "-c", " ".join(self.adapt(test[1:]))]
        assert test[0] == "CMD", test
        argv = self.adapt(test[1:])
        if any("http://" in a for a in argv) and self.name != "api" and not WORKER_PORT_SETTING:
            raise AssertionError(
                f"{self.name}'s healthcheck asks a URL: set WORKER_PORT_SETTING in this test"
            )
        return argv

    def wait_healthy(self, deadline: float) -> None:
        check = self.healthcheck()
        timeout = seconds(self.spec["healthcheck"].get("timeout", "5s"))
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            done = subprocess.run(check, env=self.env, capture_output=True, timeout=timeout)
            if done.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{self.name} never healthy: {done.stderr[-500:]!r}"
            time.sleep(0.3)

    def terminate(self) -> int:
        """SIGTERM, and its exit status within the service's stop_grace_period."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.exited()

    def exited(self) -> int:
        """Its exit status, within the service's stop_grace_period (as Docker waits after one
        SIGTERM; a second one, sent after the process restored the default handler on its way
        out, would kill it)."""
        assert self.proc is not None
        return self.proc.wait(seconds(self.spec.get("stop_grace_period", "10s")))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]


def service_env(name: str, spec: dict[str, Any], database_url: str, operator: dict[str, str]):
    """The Dockerfile's ENV, then the service's `environment` as compose interpolates it."""
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    env.update(image_env())
    declared = {k: interpolate(str(v), operator) for k, v in spec["environment"].items()}
    assert "@postgres:5432/" in declared["DATABASE_URL"]  # compose's own database service
    env.update(declared, DATABASE_URL=database_url)
    return {k: v for k, v in env.items() if v != ""}  # compose's `VAR: ""` reads as unset


# --- the deployment ----------------------------------------------------------------------------

# What an operator sets before `docker compose up` (README: Docker).
OPERATOR = {"JWT_SECRET": secrets.token_urlsafe(48), "METRICS_ENABLED": "true"}
SET_DPLANS = """mutation($n: String!, $d: [DplanInput!]!) { setDplans(netid: $n, dplans: $d) {
  taskId } }"""
TASK = "query($id: String!) { task(id: $id) { status message } }"
DPLANS = "query($n: String!) { student(netid: $n) { dplans { termCode dplanId } } }"
NETIDS = [f"c{i:06d}" for i in range(5)]


class Deployment:
    def __init__(self, database_url: str, logs: Path) -> None:
        self.specs = services()
        self.database_url, self.logs = database_url, logs
        self.running: list[Service] = []

    def service(self, name: str) -> Service:
        spec = self.specs[name]
        service = Service(
            name, spec, service_env(name, spec, self.database_url, OPERATOR), self.logs
        )
        if name == "worker" and WORKER_PORT_SETTING:
            service.port = free_port()
            service.env[WORKER_PORT_SETTING] = str(service.port)
        self.running.append(service)
        return service

    def stop_all(self) -> None:
        for service in self.running:
            service.kill()


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


async def seed_students(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    async with create_sessionmaker(engine)() as session:
        for netid in NETIDS:
            await make_student(session, netid=netid)
        await session.commit()
    await engine.dispose()


async def task_states(database_url: str) -> dict[str, int]:
    engine = create_engine(Settings(database_url=database_url))
    async with create_sessionmaker(engine)() as session:
        rows = (
            await session.execute(select(Task.status, func.count()).group_by(Task.status))
        ).all()
    await engine.dispose()
    return {status: count for status, count in rows}


async def test_the_compose_deployment(database, tmp_path):
    deployment = Deployment(database, tmp_path)
    try:
        await _run(deployment, database)
    except BaseException:
        for service in deployment.running:
            print(f"--- {service.name} ---\n{service.tail()}")
        raise
    finally:
        deployment.stop_all()


async def _run(deployment: Deployment, database: str) -> None:
    migrate = deployment.service("migrate").start()
    assert migrate.proc is not None and migrate.proc.wait(60) == 0, migrate.tail()
    assert deployment.specs["migrate"]["restart"] == "no"
    await seed_students(database)

    api = deployment.service("api")
    api.spec = {**api.spec, "command": [*api.spec["command"][:-1], "2"]}  # --workers 2
    assert api.spec["command"][-2] == "--workers"
    api.start()
    workers = [deployment.service("worker").start() for _ in range(2)]
    deadline = time.monotonic() + 30
    for service in (api, *workers):
        service.wait_healthy(deadline)

    token = mint(
        Settings(environment="test", jwt_secret=OPERATOR["JWT_SECRET"]),
        sub="ops",
        scopes=list(ALL_SCOPES),
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=f"http://{api.url}", headers=headers, timeout=10
    ) as client:
        await _round_trip(client)
        await _scrape(client, workers)
        accepted = await asyncio.gather(
            *(
                gql(client, SET_DPLANS, n=netid, d=[_dplan(term, code)])
                for netid in NETIDS
                for term in ("202301", "202303")
                for code in ("R", "L", "O")
            )
        )
        for worker in workers:  # at once, while they apply what was just accepted
            worker.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for worker in workers:
            assert worker.exited() == 0, worker.tail()
        states = await task_states(database)
        assert sum(states.values()) == len(accepted) + 1 and "running" not in states, states
        again = deployment.service("worker").start()
        await until(lambda: _all_complete(database, len(accepted) + 1), 20)
        assert again.terminate() == 0
    assert api.terminate() == 0, api.tail()


def _dplan(term: str, code: str) -> dict[str, str]:
    return {"termCode": term, "dplanId": code, "dplanSourceId": "PHL"}


async def _all_complete(database: str, total: int) -> bool:
    return await task_states(database) == {"complete": total}


async def _round_trip(client: httpx.AsyncClient) -> None:
    netid = NETIDS[0]
    task = (await gql(client, SET_DPLANS, n=netid, d=[_dplan("202301", "R")]))["setDplans"]

    async def finished() -> dict[str, Any] | None:
        state = (await gql(client, TASK, id=task["taskId"]))["task"]
        return state if state["status"] in ("COMPLETE", "ERROR") else None

    assert (await until(finished, 15)) == {"status": "COMPLETE", "message": "success"}
    dplans = (await gql(client, DPLANS, n=netid))["student"]["dplans"]
    assert dplans == [{"termCode": "202301", "dplanId": "R"}]


async def _scrape(client: httpx.AsyncClient, workers: list[Service]) -> None:
    # With multiprocess metrics, each scrape covers every process of the api.
    for _ in range(4):
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "studentgraph_requests_total" in response.text
    for worker in workers:
        if WORKER_PORT_SETTING:  # workers serve /metrics on their own port
            scraped = await client.get(f"http://{worker.url}/metrics")
            assert scraped.status_code == 200 and "studentgraph_" in scraped.text
