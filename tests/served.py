"""A real server for the tests that need one (a browser, node, the gql client): `python -m app
serve` on a free port of 127.0.0.1, and workers on demand, each a process of its own."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`env` is added to the defaults: the test environment, `database_url`, the in-process
    worker on, no rate limit, warnings only. `token` carries every scope. `root`: the source
    tree whose `app` runs (another release's, say)."""

    def __init__(
        self, database_url: str, *, demo: bool = False, root: Path = ROOT, **env: str
    ) -> None:
        self.with_demo = demo  # `python -m app demo` (the seed documents' students) first
        self.root = root
        self.env = {
            **os.environ,
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "WORKER_IN_PROCESS": "true",
            "RATE_LIMIT_PER_SECOND": "0",
            "RATE_LIMIT_COST_PER_MINUTE": "0",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.url = f"http://127.0.0.1:{free_port()}"
        self.settings = Settings(environment="test", database_url=database_url)
        self.token = mint(self.settings, sub="f003ghc", scopes=list(ALL_SCOPES))
        self.processes: list[subprocess.Popen[bytes]] = []

    def demo(self) -> None:
        """`python -m app demo`: the seed documents' students."""
        self.cli("demo")

    def cli(self, *args: str) -> str:
        """`python -m app ARGS` (it must succeed); what it printed."""
        command = [sys.executable, "-m", "app", *args]
        done = subprocess.run(
            command, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{args}: {done.stderr}"
        return done.stdout

    def start(self) -> None:
        """Serves, and returns once /readyz says so (60 s at most)."""
        if self.with_demo:
            self.demo()
        self._start("serve", "--port", self.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"the server at {self.url} did not become ready")

    def start_worker(self) -> None:
        self._start("worker", "--concurrency", "1")

    def _start(self, *args: str) -> None:
        command = [sys.executable, "-m", "app", *args]
        self.processes.append(
            subprocess.Popen(
                command, cwd=self.root, env=self.env, stdout=subprocess.DEVNULL, stderr=None
            )
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@contextmanager
def running(served: Served) -> Iterator[Served]:
    """`served` started, and stopped however the test ends."""
    try:
        served.start()
        yield served
    finally:
        served.stop()
