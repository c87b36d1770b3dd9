"""`make bench-peer`: the project against PostGraphile v4 and the floor, over HTTP, on one
PostgreSQL database of generated students.

1. Data: `studentgraph migrate` and `generate --students N --seed S` into DATABASE (created, and
   refilled only when its counts are not those of N students).
2. Servers, one process each on 127.0.0.1: the project (`studentgraph serve`, its defaults),
   PostGraphile v4 (pinned in bench/peer/package.json, `--simple-collections both`) and the floor
   (bench/peer/floor_app.py: plain SQL, assembled in Python, the same uvicorn).
3. Check: every system answers every scenario with the same counts of students, terms, plans and
   D-plans, and reports its SQL statements per request.
4. Time: wrk, 8 connections (`--connections`), alternating rounds (project, PostGraphile,
   floor, ...); medians.
   "5,000 students with their terms" is one sequential client fetching them as a client would
   with each system's default settings: the project's pages of 100 (its cap), PostGraphile's one
   list (it has no cap), the floor's one answer.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.peer import scenarios
from bench.peer.load import Result, alternating_fetches, lua_script, wrk
from bench.serving import (
    ROOT,
    VENV_BIN,
    database_arguments,
    ensure_wrk,
    machine,
    prepare_database,
    run,
    wait_for,
)

HERE = Path(__file__).resolve().parent
PORTS = {"project": 8710, "postgraphile": 8711, "floor": 8712, "unrecorded": 8713}
# The project again with its FERPA disclosure records off: what recording costs, in the same run.
UNRECORDED = "unrecorded"
BRAKES_OFF = {"RATE_LIMIT_PER_SECOND": "0", "RATE_LIMIT_COST_PER_MINUTE": "0"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    database_arguments(p, "sg_peer")
    p.add_argument("--seconds", type=float, default=8.0, help="per wrk run (8)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    p.add_argument("--fetches", type=int, default=5, help="timed 5,000-student fetches (5)")
    return p.parse_args(argv)


def prepare_tools() -> None:
    ensure_wrk()
    if not (HERE / "node_modules" / ".bin" / "postgraphile").exists():
        print("installing PostGraphile (npm ci) ...", flush=True)
        run("npm", "ci", "--no-audit", "--no-fund", cwd=HERE)


@contextmanager
def servers(url: str, args: argparse.Namespace, *, debug_sql: bool) -> Iterator[dict[str, str]]:
    plain = url.replace("+asyncpg", "")
    logs = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    commands = {
        # The rate limit and budget are off: one caller at thousands of requests a second is
        # what they stop.
        "project": (
            [str(VENV_BIN / "studentgraph"), "serve", "--port", str(PORTS["project"])],
            {"DATABASE_URL": url, **BRAKES_OFF},
        ),
        UNRECORDED: (
            [str(VENV_BIN / "studentgraph"), "serve", "--port", str(PORTS[UNRECORDED])],
            {"DATABASE_URL": url, **BRAKES_OFF, "DISCLOSURE_RECORDS": "false"},
        ),
        "postgraphile": (
            [
                str(HERE / "node_modules" / ".bin" / "postgraphile"),
                "-c",
                plain,
                "--simple-collections",
                "both",
                "--host",
                "127.0.0.1",
                "--port",
                str(PORTS["postgraphile"]),
                "--disable-query-log",
            ],
            {"NODE_ENV": "production", **({"DEBUG": "postgraphile:postgres"} if debug_sql else {})},
        ),
        "floor": (
            [
                str(VENV_BIN / "uvicorn"),
                "bench.peer.floor_app:app",
                "--port",
                str(PORTS["floor"]),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            {"FLOOR_DATABASE_URL": plain},
        ),
    }
    processes = {}
    try:
        for name, (command, env) in commands.items():
            log = open(logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
            processes[name] = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, **env},
            )
        for name in commands:
            wait_for(f"http://127.0.0.1:{PORTS[name]}", processes[name], logs / f"{name}.log")
        yield {name: str(logs / f"{name}.log") for name in commands}
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(10)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_tools()
    url = prepare_database(args.database, args.pg, args.students, args.seed)
    context = scenarios.Context.create(url, args)
    with servers(url, args, debug_sql=True) as logs:
        counts = scenarios.check(context, logs)
    table: dict[tuple[str, str], list[Result]] = {}
    n = args.connections
    with servers(url, args, debug_sql=False), tempfile.TemporaryDirectory() as tmp:
        for scenario in scenarios.LOADED:
            requests = scenario.requests(context)
            requests[UNRECORDED] = requests["project"]
            scripts = {
                system: lua_script(
                    request, context.keys_file, Path(tmp) / f"{scenario.key}-{system}.lua"
                )
                for system, request in requests.items()
            }
            for system, script in scripts.items():  # warm
                wrk(f"http://127.0.0.1:{PORTS[system]}", script, seconds=1, connections=n)
            for _ in range(args.rounds):
                for system, script in scripts.items():
                    url = f"http://127.0.0.1:{PORTS[system]}"
                    result = wrk(url, script, seconds=args.seconds, connections=n)
                    table.setdefault((scenario.key, system), []).append(result)
        fetches = {
            system: (fetch, f"http://127.0.0.1:{PORTS[system]}")
            for system, fetch in scenarios.fetchers(context).items()
        }
        fetch_times = alternating_fetches(fetches, args.fetches)
    print(scenarios.report(table, fetch_times, counts, machine(), args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
