"""A worker process's /healthz and /metrics (WORKER_METRICS_PORT), and what they say when its
database or its loop of work is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.db import create_engine, create_sessionmaker
from app.worker.monitoring import health_server
from tests.factories import make_student
from tests.served import free_port
from tests.worker.helpers import accept, seed_payload
from tests.worker.processes import BASE_ENV, ROOT

NETID = "f00hlt1"


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def _until(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = await check()
            if result:
                return result
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.1)


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(worker: subprocess.Popen[bytes]) -> int:
    worker.send_signal(signal.SIGTERM)
    return worker.wait(timeout=30)


class TestWorkerProcess:
    async def test_health_and_metrics_of_a_running_worker(self, database_url, session, sessions):
        await make_student(session, netid=NETID)
        await session.commit()
        port = free_port()
        env = {
            **os.environ,
            **BASE_ENV,
            "DATABASE_URL": database_url,
            "WORKER_METRICS_PORT": str(port),
            "METRICS_ENABLED": "true",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        worker = _start_worker(env)
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)
        try:
            health = await _until(lambda: client.get("/healthz"))
            assert health.status_code == 200
            assert health.json() == {"status": "ok", "database": "ok", "worker": "running"}
            await accept(sessions, NETID, seed_payload())

            async def completed() -> str | None:
                text = (await client.get("/metrics")).text
                done = _value(text, "studentgraph_tasks_total", outcome="complete") == 1
                return text if done else None

            text = await _until(completed)
            assert _value(text, "studentgraph_task_queue_depth", status="accepted") == 0
            assert _value(text, "studentgraph_task_apply_seconds_count") == 1
            assert _value(text, "studentgraph_database_up") == 1
            assert "studentgraph_db_pool_connections_in_use" in text
        finally:
            assert await asyncio.to_thread(_stop, worker) == 0
        with pytest.raises(httpx.TransportError):
            await client.get("/healthz")  # stopped with the worker
        await client.aclose()


class TestHealthServer:
    async def _get(self, settings, engine, working, path="/healthz") -> httpx.Response:
        async with (
            health_server(settings, engine, create_sessionmaker(engine), working),
            httpx.AsyncClient() as client,
        ):
            return await client.get(
                f"http://127.0.0.1:{settings.worker_metrics_port}{path}", timeout=10
            )

    async def test_a_database_that_does_not_answer_is_503(self, settings):
        settings = settings.model_copy(update={"worker_metrics_port": free_port()})
        gone = create_engine(settings, f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
        working = asyncio.create_task(asyncio.Event().wait())
        try:
            response = await self._get(settings, gone, working)
        finally:
            working.cancel()
            await gone.dispose()
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "database": "unavailable",
            "worker": "running",
        }

    async def test_a_worker_that_stopped_is_503(self, settings, engine):
        settings = settings.model_copy(update={"worker_metrics_port": free_port()})
        working = asyncio.create_task(asyncio.sleep(0))
        await working
        response = await self._get(settings, engine, working)
        assert response.status_code == 503
        assert response.json()["worker"] == "stopped"
        assert response.json()["database"] == "ok"

    async def test_metrics_follow_metrics_enabled(self, settings, engine):
        working = asyncio.create_task(asyncio.Event().wait())
        try:
            for enabled, status in ((False, 404), (True, 200)):
                exposure = {"worker_metrics_port": free_port(), "metrics_enabled": enabled}
                response = await self._get(
                    settings.model_copy(update=exposure), engine, working, "/metrics"
                )
                assert response.status_code == status
        finally:
            working.cancel()

    async def test_a_port_in_use_is_one_clear_error(self, settings, engine):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            settings = settings.model_copy(update={"worker_metrics_port": port})
            working = asyncio.create_task(asyncio.Event().wait())
            try:
                with pytest.raises(RuntimeError, match=f"WORKER_METRICS_PORT.*:{port}"):
                    async with health_server(
                        settings, engine, create_sessionmaker(engine), working
                    ):
                        pass
            finally:
                working.cancel()


class TestWorkerCommand:
    def test_a_port_in_use_is_one_line_and_exit_1(self, tmp_path):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = {
                **os.environ,
                **BASE_ENV,
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
                "WORKER_METRICS_PORT": str(port),
            }
            assert (
                subprocess.run(
                    [sys.executable, "-m", "app", "migrate"],
                    cwd=ROOT,
                    env=env,
                    check=False,
                    capture_output=True,
                ).returncode
                == 0
            )
            result = subprocess.run(
                [sys.executable, "-m", "app", "worker"],
                cwd=ROOT,
                env={**env, "LOG_LEVEL": "WARNING"},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        assert result.returncode == 1
        assert result.stderr.startswith(
            f"studentgraph: error: WORKER_METRICS_PORT: cannot listen on 127.0.0.1:{port}"
        )
        assert result.stderr.count("\n") == 1, result.stderr
