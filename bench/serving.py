"""What the HTTP benches share: commands, the PostgreSQL database of generated students, server
processes on 127.0.0.1 and a line about the machine."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
STUDENTGRAPH = str(VENV_BIN / "studentgraph")
ADMIN_URL = "postgresql://{pg}/postgres"


def run(*command: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def psql(url: str, sql: str) -> str:
    """One statement's rows as psql -At prints them (`url` without a driver suffix)."""
    return run("psql", url.replace("+asyncpg", ""), "-Atc", sql).strip()


def database_arguments(parser: argparse.ArgumentParser, database: str) -> None:
    """The options every HTTP bench takes for its database of generated students."""
    parser.add_argument("--database", default=database, help=f"PostgreSQL database ({database})")
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument("--students", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="serve on ports free now rather than the bench's fixed ones (for the smoke tests)",
    )


def free_port() -> int:
    """A port nothing listens on now (for benches run side by side, as the smoke tests are)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        print("installing wrk (Debian package) ...", flush=True)
        run("apt-get", "install", "-y", "-q", "wrk")


def prepare_database(database: str, pg: str, students: int, seed: int) -> str:
    """The database (created if missing), migrated, holding exactly `students` generated ones;
    returns its SQLAlchemy URL."""
    if not psql(ADMIN_URL.format(pg=pg), f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        psql(ADMIN_URL.format(pg=pg), f'CREATE DATABASE "{database}"')
    url = f"postgresql+asyncpg://{pg}/{database}"
    run(STUDENTGRAPH, "migrate", env={"DATABASE_URL": url})
    if int(psql(url, "SELECT count(*) FROM students") or 0) != students:
        print(f"generating {students} students ...", flush=True)
        psql(url, "TRUNCATE students, student_terms, academic_plans, student_dplans, tasks CASCADE")
        run(
            STUDENTGRAPH,
            "generate",
            "--students",
            str(students),
            "--seed",
            str(seed),
            env={"DATABASE_URL": url},
        )
    # Planner statistics and the visibility map as a long-running database has them, and the
    # same for every run: where autovacuum is off or has not run yet (a database generated a
    # moment ago), PostgreSQL plans from defaults for tables it has never looked at.
    psql(url, "VACUUM (ANALYZE)")
    return url


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "a") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **env}
        )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(20)


def wait_for(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"{base} exited:\n{log.read_text()}")
        try:
            httpx.get(base + "/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    sys.exit(f"{base} did not start:\n{log.read_text()}")


def machine(pg: str = "postgres@127.0.0.1:5432") -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    version = psql(ADMIN_URL.format(pg=pg), "SHOW server_version")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}), {python}, PostgreSQL {version}"
