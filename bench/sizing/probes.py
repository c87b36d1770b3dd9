"""What the sizing bench reads off the machine while it runs: CPU time of processes (/proc), who
holds which TCP connection (/proc/net/tcp and each process's descriptors), and PostgreSQL's own
view of its sessions (pg_stat_activity, sampled on a connection of the bench's own)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
ESTABLISHED = "01"


def ticks(pid: int) -> int:
    """CPU time (user + system) of one process so far, in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])


def busy_ticks() -> int:
    """CPU time the whole machine spent busy (every core; idle and iowait left out)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(
        int, Path("/proc/stat").read_text().split()[1:8]
    )
    return user + nice + system + irq + softirq


class CpuMeter:
    """CPU used by groups of processes between `start` and `stop`. A group's pids may change
    while it runs (PostgreSQL forks a backend per connection): pids met only at the end count
    all their time, as all of it was spent inside the window; pids gone by the end are lost."""

    def __init__(self, groups: dict[str, Iterable[int]]) -> None:
        self.before = {name: {pid: ticks(pid) for pid in pids} for name, pids in groups.items()}
        self.busy = busy_ticks()

    def stop(self, groups: dict[str, Iterable[int]]) -> dict[str, float]:
        """Seconds of CPU per group, and `machine` (every process on it, wrk included)."""
        used: dict[str, float] = {}
        for name, before in self.before.items():
            pids = set(before) | set(groups.get(name, ()))
            spent = sum(max(0, ticks(pid) - before.get(pid, 0)) for pid in pids)
            used[name] = spent / TICKS_PER_SECOND
        used["machine"] = (busy_ticks() - self.busy) / TICKS_PER_SECOND
        return used


# --- TCP connections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Socket:
    local_port: int
    remote_port: int


def _tcp_sockets() -> dict[int, Socket]:
    """Established IPv4 TCP sockets of the machine, by inode."""
    sockets = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] != ESTABLISHED:
            continue
        local, remote, inode = parts[1], parts[2], int(parts[9])
        sockets[inode] = Socket(int(local.split(":")[1], 16), int(remote.split(":")[1], 16))
    return sockets


def _inodes(pid: int) -> set[int]:
    found = set()
    with contextlib.suppress(FileNotFoundError, PermissionError, ProcessLookupError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    return found


def connections(pids: Iterable[int], ports: Iterable[int]) -> dict[int, Counter[int]]:
    """For each pid, its established connections to each of `ports` (remote port: count)."""
    wanted = set(ports)
    sockets = _tcp_sockets()
    held: dict[int, Counter[int]] = {}
    for pid in pids:
        held[pid] = Counter(
            sockets[i].remote_port
            for i in _inodes(pid)
            if i in sockets and sockets[i].remote_port in wanted
        )
    return held


def client_ports(pids: Iterable[int], server_port: int) -> dict[int, int]:
    """The local port of each connection these pids hold to `server_port`: port -> pid (what
    pg_stat_activity's client_port names)."""
    sockets = _tcp_sockets()
    owners = {}
    for pid in pids:
        for inode in _inodes(pid):
            socket = sockets.get(inode)
            if socket is not None and socket.remote_port == server_port:
                owners[socket.local_port] = pid
    return owners


# --- pg_stat_activity, sampled -----------------------------------------------------------------

ACTIVITY = """SELECT pid, client_port, backend_type, datname FROM pg_stat_activity
              WHERE pid <> pg_backend_pid()"""


@dataclass
class Sample:
    """The most seen at once, over a run's samples."""

    backends: Counter[str] = field(default_factory=Counter)  # owner group -> PostgreSQL backends
    held: Counter[str] = field(default_factory=Counter)  # "<group>:<port>" -> per process, max
    postgres_pids: set[int] = field(default_factory=set)  # every backend of the database seen


class Sampler:
    """Samples, every `interval` seconds on a thread of its own with one asyncpg connection:
    the database's backends by who holds them (a group of pids, by the client port of each
    connection), and the connections each process of each group holds to `ports`."""

    def __init__(
        self,
        dsn: str,
        database: str,
        server_port: int,
        groups: dict[str, list[int]],
        ports: dict[str, int],
        interval: float = 0.25,
    ) -> None:
        self.dsn, self.database, self.server_port = dsn, database, server_port
        self.groups, self.ports, self.interval = groups, ports, interval
        self.sample = Sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Sample:
        self._thread.start()
        return self.sample

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            while True:
                self._take(await conn.fetch(ACTIVITY))
                if self._stop.wait(self.interval):
                    self._take(await conn.fetch(ACTIVITY))
                    return
        finally:
            await conn.close()

    def _take(self, rows: list[Any]) -> None:
        every = [pid for pids in self.groups.values() for pid in pids]
        owner_pid = client_ports(every, self.server_port)
        group_of = {pid: name for name, pids in self.groups.items() for pid in pids}
        backends: Counter[str] = Counter()
        for row in rows:
            pid, port, kind, datname = row
            if kind == "client backend" and datname == self.database:
                backends[group_of.get(owner_pid.get(port or -1, -1), "other")] += 1
                self.sample.postgres_pids.add(pid)
            elif kind != "client backend":  # checkpointer, WAL writer, autovacuum, ...
                self.sample.postgres_pids.add(pid)
        for name, count in backends.items():
            self.sample.backends[name] = max(self.sample.backends[name], count)
        held = connections(every, self.ports.values())
        for name, pids in self.groups.items():
            for port_name, port in self.ports.items():
                if port_name == name:  # PgBouncer's own clients are the other groups' pools
                    continue
                most = max((held[pid][port] for pid in pids), default=0)
                key = f"{name}:{port_name}"
                self.sample.held[key] = max(self.sample.held[key], most)


def postgres_pids(dsn: str, database: str) -> set[int]:
    """Backends of `database` and PostgreSQL's own background processes, now."""
    from bench.serving import psql

    found = psql(
        dsn,
        "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend' "
        f"OR datname = '{database}'",
    )
    return {int(pid) for pid in found.split()}
