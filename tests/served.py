"""A real server for the tests that need one (a browser, node, the gql client): `python -m app
serve` on a free port of 127.0.0.1, and workers on demand, each a process of its own."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
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


# Ports handed out for a process started later (a server, PostgreSQL, PgBouncer) come from a
# range of this pytest process's own: the kernel's "port 0" hands the same free port to two xdist
# workers that each close their probe socket before their process binds it. Each worker (gw0,
# gw1, ...) has a block of PORTS_PER_WORKER below the kernel's ephemeral range (32768 and up, where
# clients' outgoing ports come from), starts at a random point of it (another run of the suite on
# the same machine has the same blocks) and walks it, skipping a port something holds now.
PORT_BASE = 20_000
PORTS_PER_WORKER = 500


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # unset outside xdist: one block
    return int(worker.removeprefix("gw") or 0) % ((32_768 - PORT_BASE) // PORTS_PER_WORKER)


_BLOCK = PORT_BASE + _worker_index() * PORTS_PER_WORKER
_next_port = itertools.count(random.randrange(PORTS_PER_WORKER))


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now, and that no other xdist worker of this run
    hands out: for a process the test starts (which binds it a moment later)."""
    for _ in range(PORTS_PER_WORKER):
        port = _BLOCK + next(_next_port) % PORTS_PER_WORKER
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # held (another run's server, a TIME_WAIT listener): the next one
            return port
    raise AssertionError(f"no free port in {_BLOCK}..{_BLOCK + PORTS_PER_WORKER - 1}")


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
