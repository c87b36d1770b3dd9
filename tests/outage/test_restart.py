"""A PostgreSQL restart under a running API and two workers: a PostgreSQL of the test's own (a
throwaway data directory, never the shared server), stopped and started again mid-run. Requests
during the outage get 503 with Retry-After; the API, the workers and their LISTEN connections
recover by themselves; tasks accepted before, during (a client retrying on 503) and after the
outage all complete, each applied exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.models import StudentDplan
from tests.factories import make_student
from tests.worker.processes import (
    BASE_ENV,
    ROOT,
    WorkerProcess,
    apply_log,
    eventually,
    install_apply_log,
)

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
TERMS = ("202301", "202303")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL of this test's own, in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.bin = Path(BIN[-1])
        self.root, self.port = root, _free_port()
        self.data = root / "data"
        root.chmod(0o777)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():
    if not BIN or shutil.which("runuser") is None:
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl)")
    root = Path(tempfile.mkdtemp(prefix="sg-outage-"))  # reachable by the postgres user
    cluster = Cluster(root)
    cluster.start()
    yield cluster
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        **BASE_ENV,
        "DATABASE_URL": url,
        "WORKER_IN_PROCESS": "false",
        "RATE_LIMIT_PER_SECOND": "0",
        "RATE_LIMIT_COST_PER_MINUTE": "0",
    }


def _migrate(url: str) -> None:
    command = [sys.executable, "-m", "app", "migrate"]
    subprocess.run(command, cwd=ROOT, env=_env(url), check=True, capture_output=True)


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _prepare(url: str, netids: list[str]) -> None:
    await asyncio.to_thread(_migrate, url)
    engine = create_engine(Settings(environment="test", database_url=url))
    sessions = create_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            for netid in netids:
                await make_student(session, netid=netid)
        await install_apply_log(sessions)
    finally:
        await engine.dispose()


def _body(code: str) -> dict:
    return {"dplans": [{"term_code": t, "dplan_id": code, "dplan_source_id": "PHL"} for t in TERMS]}


async def test_a_restart_loses_nothing_and_applies_nothing_twice(cluster):
    netids = [f"r{i:05d}" for i in range(12)]
    await _prepare(cluster.url, netids)
    port = _free_port()
    api = _serve(cluster.url, port)
    workers = [WorkerProcess(cluster.url, 2, WORKER_IN_PROCESS="false") for _ in range(2)]
    token = mint(Settings(environment="test"), sub="outage", scopes=list(ALL_SCOPES))
    headers = {"Authorization": f"Bearer {token}"}
    accepted: dict[str, str] = {}  # netid -> task id
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await eventually(lambda: _ready(client), seconds=20)

            async def patch(netid: str, code: str) -> httpx.Response:
                response = await client.patch(
                    f"/api/students/{netid}", json=_body(code), headers=headers
                )
                if response.status_code == 202:
                    accepted[netid] = response.headers["location"].rsplit("/", 1)[1]
                return response

            async def patch_until_accepted(netid: str, code: str) -> None:
                # A client honouring Retry-After (sooner, to keep the test short).
                while (await patch(netid, code)).status_code == 503:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)

            for netid in netids[:4]:  # before
                assert (await patch(netid, "R")).status_code == 202
            await asyncio.to_thread(cluster.stop)
            during = [await patch(n, "L") for n in netids[4:8]]
            assert {r.status_code for r in during} == {503}
            assert all(r.headers["retry-after"] for r in during)
            assert (await client.get("/readyz")).status_code == 503
            retrying = asyncio.gather(*(patch_until_accepted(n, "L") for n in netids[4:8]))
            await asyncio.sleep(1)
            await asyncio.to_thread(cluster.start)
            await asyncio.wait_for(retrying, 30)
            for netid in netids[8:]:  # after
                assert (await patch(netid, "O")).status_code == 202
            await eventually(lambda: _ready(client), seconds=20)
            statuses = await eventually(lambda: _all_complete(client, accepted, headers), 60)
        assert len(statuses) == len(netids)
        await _applied_exactly_once(cluster.url, accepted)
    finally:
        api.terminate()
        api.wait(20)
        for worker in workers:
            worker.stop()


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _all_complete(client: httpx.AsyncClient, accepted: dict[str, str], headers) -> list:
    statuses = []
    for task_id in accepted.values():
        response = await client.get(f"/api/tasks/{task_id}", headers=headers)
        if response.status_code != 200 or response.json()["status"] != "complete":
            return []
        statuses.append(response.json()["status"])
    return statuses


async def _applied_exactly_once(url: str, accepted: dict[str, str]) -> None:
    engine = create_engine(Settings(environment="test", database_url=url))
    sessions = create_sessionmaker(engine)
    try:
        writes = [(r.netid, r.term_code, r.task_id) for r in await apply_log(sessions)]
        assert sorted(writes) == sorted(
            (netid, term, task_id) for netid, task_id in accepted.items() for term in TERMS
        )
        async with sessions() as session:
            rows = (await session.execute(select(StudentDplan))).scalars().all()
        assert {(r.netid, r.term_code): r.task_id for r in rows} == {
            (netid, term): task_id for netid, task_id in accepted.items() for term in TERMS
        }
    finally:
        await engine.dispose()
