"""The command line: serve, migrate, token, export-schema, and argument errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from app.auth.scopes import PEOPLE_PRIVATE, STUDENTS_READ
from app.cli import main
from app.models import SisTerm
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING", **(env or {})},
        check=False,
    )


class TestArguments:
    @pytest.mark.parametrize(
        "command", ["serve", "migrate", "token", "export-schema", "load", "demo", "generate"]
    )
    def test_help(self, command):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "usage:" in result.stdout

    @pytest.mark.parametrize(
        "args",
        [["bogus"], ["serve", "--port", "notaport"], ["token"], ["serve", "--nope"], []],
    )
    def test_wrong_arguments_are_one_line_and_non_zero(self, args):
        result = run_cli(*args)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert "error:" in result.stderr

    def test_bad_settings_are_one_line(self):
        result = run_cli("token", "--sub", "x", env={"JWT_ALGORITHMS": "none"})
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "JWT_ALGORITHMS" in result.stderr


class TestMigrate:
    def test_twice_is_a_no_op(self, tmp_path):
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        first = run_cli("migrate", env={"DATABASE_URL": url})
        assert first.returncode == 0, first.stderr
        schema_before = (tmp_path / "m.db").stat().st_size
        second = run_cli("migrate", env={"DATABASE_URL": url})
        assert second.returncode == 0, second.stderr
        assert (tmp_path / "m.db").stat().st_size == schema_before

    async def test_again_on_a_migrated_database_changes_nothing(self, database_url, session):
        before = (await session.execute(select(func.count()).select_from(SisTerm))).scalar()
        version = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
        await session.rollback()
        result = run_cli("migrate", env={"DATABASE_URL": database_url})
        assert result.returncode == 0, result.stderr
        after = (await session.execute(select(func.count()).select_from(SisTerm))).scalar()
        assert after == before == 204
        assert (await session.execute(text("SELECT version_num FROM alembic_version"))).all() == (
            version
        )


class TestToken:
    def test_minted_token_is_accepted_by_serve(self, tmp_path):
        url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
        env = {"DATABASE_URL": url}
        assert run_cli("migrate", env=env).returncode == 0
        token = run_cli(
            "token", "--sub", "f003ghc", "--scope", STUDENTS_READ, env=env
        ).stdout.strip()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env, "LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            query = {"query": "{ dplanCodes { id } }"}
            ok = httpx.post(
                f"{base}/graphql", json=query, headers={"Authorization": f"Bearer {token}"}
            )
            assert ok.status_code == 200 and ok.json()["data"]["dplanCodes"]
            assert httpx.post(f"{base}/graphql", json=query).status_code == 401
            assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        finally:
            server.terminate()
            server.wait(timeout=20)

    def test_token_in_process(self, capsys):
        assert main(["token", "--sub", "abc", "--scope", f"{STUDENTS_READ} {PEOPLE_PRIVATE}"]) == 0
        assert capsys.readouterr().out.count(".") == 2


def _healthz_requests(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = frozenset({"method": "GET", "route": "/healthz", "status": "200"}.items())
    return samples.get(("studentgraph_requests_total", labels), 0.0)


class TestServeWorkers:
    def test_every_scrape_counts_every_process(self, database_url, tmp_path):
        """`serve --workers 2`: whichever process answers a scrape, it counts the requests both
        served (prometheus-client's multiprocess mode, in a fresh directory removed at exit)."""
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "WORKER_IN_PROCESS": "false",
            "METRICS_ENABLED": "true",
            "TMPDIR": str(tmp_path),  # where serve makes its metrics directory
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            (directory,) = tmp_path.glob("studentgraph-metrics-*")
            for _ in range(21):  # a new connection each: the kernel spreads them
                assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            scrapes = [_healthz_requests(base) for _ in range(8)]
            assert scrapes == [21.0] * 8
            pids = {p.stem.rsplit("_", 1)[1] for p in directory.glob("counter_*.db")}
            assert len(pids) == 2
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert not directory.exists()
