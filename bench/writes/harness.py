"""What every part of bench.writes works with: the API's address, the database, the clients'
target (a token, netids, term codes, D-plan codes), the workers and wrk."""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import orjson

from bench.peer.load import Request, Result, lua_script, wrk
from bench.serving import STUDENTGRAPH, free_port, psql, run, start
from bench.writes.clients import SET_DPLANS, Target

PORT = 8720  # the API's
FLOOR_PORT = 8723  # bench/writes/floor_app.py's


class Bench:
    def __init__(self, args: argparse.Namespace, url: str, logs: Path) -> None:
        self.args = args
        self.url = url
        self.logs = logs
        self.env = {"DATABASE_URL": url, "WORKER_IN_PROCESS": "false"}
        self.port = free_port() if args.free_ports else PORT
        self.floor_port = free_port() if args.free_ports else FLOOR_PORT
        self.base = f"http://127.0.0.1:{self.port}"
        self.floor = f"http://127.0.0.1:{self.floor_port}"
        netids = psql(url, "SELECT netid FROM students WHERE NOT ferpa_protected ORDER BY netid")
        terms = psql(url, "SELECT id FROM sis_terms ORDER BY id DESC LIMIT 2")
        codes = psql(url, "SELECT id FROM dplan_codes ORDER BY id")
        token = run(
            STUDENTGRAPH, "token", "--sub", "bench-writes", "--lifetime", "86400", env=self.env
        ).strip()
        self.target = Target(self.base, token, netids.split(), terms.split(), codes.split())
        self.keys = logs / "netids.txt"
        self.keys.write_text("\n".join(self.target.netids) + "\n")

    def reset(self) -> None:
        psql(self.url, "TRUNCATE tasks")

    def open_tasks(self) -> int:
        return int(
            psql(self.url, "SELECT count(*) FROM tasks WHERE status IN ('accepted', 'running')")
        )

    def workers(self, n: int) -> list[subprocess.Popen[bytes]]:
        return [
            start([STUDENTGRAPH, "worker"], self.env, self.logs / f"worker{i}.log")
            for i in range(n)
        ]

    def wait_drained(self, limit: float = 120.0) -> float:
        started = time.perf_counter()
        while self.open_tasks() and time.perf_counter() - started < limit:
            time.sleep(0.1)
        return time.perf_counter() - started

    def wrk(self, request: Request, name: str, base: str | None = None) -> Result:
        script = lua_script(request, self.keys, self.logs / f"{name}.lua")
        return wrk(base or self.base, script, seconds=self.args.seconds)

    def patch(self) -> Request:
        body = self.target.patch_body(0).decode()
        return Request("PATCH", "/api/students/@KEY@", body.encode(), self._headers())

    def set_dplans(self) -> Request:
        variables = {"netid": "@KEY@", "dplans": self.target.dplans(1)}
        body = orjson.dumps({"query": SET_DPLANS, "variables": variables})
        return Request("POST", "/graphql", body, self._headers())

    def _headers(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Authorization", f"Bearer {self.target.token}"),
            ("Content-Type", "application/json"),
        )
