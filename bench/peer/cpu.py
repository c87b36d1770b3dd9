"""CPU time from /proc, for "what one request costs": of a server's process tree, of the
PostgreSQL processes serving one database, and of the whole machine.

A server's tree is its process and every descendant (uvicorn's workers, Node's). PostgreSQL's
share is the backends connected to the bench's database (pg_stat_activity) plus the processes
every write goes through (the WAL writer, the background writer, the checkpointer): on a quiet
machine that is what the server under load makes PostgreSQL do. A backend that starts during a
measured run counts whole (it started for that run); one that exits during it is lost, which is
why the benches warm every system first (their pools are then open).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
SHARED_BACKENDS = ("walwriter", "background writer", "checkpointer")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def ticks(pids: Iterable[int]) -> dict[int, int]:
    """utime + stime of each process still running."""
    out = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            out[pid] = int(fields[11]) + int(fields[12])
    return out


def tree(root: int) -> list[int]:
    """`root` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def busy_ticks() -> int:
    """The whole machine's non-idle time."""
    user, nice, system, _idle, _iowait, irq, softirq = map(
        int, Path("/proc/stat").read_text().split()[1:8]
    )
    return user + nice + system + irq + softirq


def postgres_pids(url: str, database: str) -> list[int]:
    """The backends on `database` and the shared writers (`url`: a psql URL)."""
    types = ", ".join(f"'{t}'" for t in SHARED_BACKENDS)
    sql = (
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
        f"(datname = '{database}' OR backend_type IN ({types}))"
    )
    done = subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, check=True)
    return [int(pid) for pid in done.stdout.split()]


@dataclass(frozen=True)
class Cost:
    """CPU microseconds over a measured run, to divide by its requests."""

    api_us: float
    postgres_us: float
    machine_us: float

    def per(self, requests: float) -> Cost:
        n = max(requests, 1.0)
        return Cost(self.api_us / n, self.postgres_us / n, self.machine_us / n)


class Meter:
    """Started before a run and read after it: the CPU the server with `pid` (and its tree),
    the PostgreSQL processes of `database` and the machine spent meanwhile."""

    def __init__(self, pid: int, url: str, database: str) -> None:
        self.pid, self.url, self.database = pid, url, database
        self.api = ticks(tree(pid))
        self.postgres = ticks(postgres_pids(url, database))
        self.busy = busy_ticks()

    def read(self) -> Cost:
        busy = busy_ticks() - self.busy
        return Cost(
            _spent(self.api, ticks(tree(self.pid))) * TICK_US,
            _spent(self.postgres, ticks(postgres_pids(self.url, self.database))) * TICK_US,
            busy * TICK_US,
        )


def _spent(before: dict[int, int], after: dict[int, int]) -> int:
    return sum(now - before.get(pid, 0) for pid, now in after.items())
