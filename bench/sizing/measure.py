"""One measured run: reads (wrk against each of a set of API processes at once) or a drain
(workers started on a queued backlog), with the CPU each group of processes used and the
database connections each held, sampled while it ran."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peer.load import Result, wrk
from bench.serving import psql, stop
from bench.sizing import fleet
from bench.sizing.fleet import Api, Database
from bench.sizing.probes import CpuMeter, Sampler, postgres_pids
from bench.writes.clients import Target, fill


@dataclass(frozen=True)
class Run:
    """What one timed run measured. `cpu`: seconds of CPU per group of processes (`api` or
    `workers`, `postgres`, `pgbouncer`, `machine`); `done`: reads answered or tasks applied."""

    rate: float  # per second
    done: float
    seconds: float
    cpu: dict[str, float]
    backends: dict[str, int]  # PostgreSQL backends of the database, by who held them (most)
    held: dict[str, int]  # "<group>:<postgres|pgbouncer>": connections of one process (most)
    wal_bytes: float  # written by the server while it ran
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0


def _ports(database: Database) -> dict[str, int]:
    ports = {"postgres": database.port}
    if database.pooler_port is not None:
        ports["pgbouncer"] = database.pooler_port
    return ports


def _dsn(database: Database) -> str:
    return database.url().replace("+asyncpg", "")


def wal_position(dsn: str) -> int:
    """Bytes of WAL the server has written so far (exact at once, unlike its statistics)."""
    return int(float(psql(dsn, "SELECT pg_current_wal_lsn() - '0/0'")))


COUNTERS = """SELECT xact_commit, wal_sync, wal_records FROM pg_stat_database, pg_stat_wal
              WHERE datname = current_database()"""
# A backend reports its statistics when idle, at most once a second, and what it has not yet
# reported 10 s later at the latest (PostgreSQL 15: PGSTAT_MIN_INTERVAL, PGSTAT_IDLE_INTERVAL).
SETTLE_SECONDS = 11.0


def counters(dsn: str, settle: float) -> dict[str, float]:
    """Commits in this database, WAL flushes (fsyncs) and records of the server so far, after
    `settle` seconds for what backends have not reported yet."""
    time.sleep(settle)
    values = [float(v) for v in psql(dsn, COUNTERS).split("|")]
    return dict(zip(("commits", "flushes", "records"), values, strict=True))


def reads(
    database: Database,
    loaded: list[Api],
    script: Path,
    *,
    seconds: float,
    connections: int,
    bouncer: int | None,
) -> Run:
    """wrk, `connections` connections to each API process of `loaded`, all at once."""
    groups = {"api": [api.pid for api in loaded], "pgbouncer": [bouncer] if bouncer else []}
    dsn = _dsn(database)
    meter = CpuMeter({**groups, "postgres": postgres_pids(dsn, database.name)})
    sampler = Sampler(dsn, database.name, database.port, groups, _ports(database))
    wal = wal_position(dsn)
    started = time.perf_counter()
    with sampler as sample, ThreadPoolExecutor(len(loaded)) as pool:
        results: list[Result] = list(
            pool.map(
                lambda api: wrk(api.base, script, seconds=seconds, connections=connections),
                loaded,
            )
        )
    wall = time.perf_counter() - started
    cpu = meter.stop({"postgres": sample.postgres_pids})
    rate = sum(r.rps for r in results)
    return Run(
        rate=rate,
        done=rate * max(1, round(seconds)),  # wrk runs whole seconds
        seconds=wall,
        cpu=cpu,
        backends=dict(sample.backends),
        held=dict(sample.held),
        wal_bytes=wal_position(dsn) - wal,
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )


@dataclass(frozen=True)
class Backlog:
    """What a drain needs: an API process to accept the PATCHes, and whom to send them for."""

    api: Api
    token: str
    netids: list[str]
    terms: list[str]
    codes: list[str]

    @classmethod
    def create(cls, database: Database, api: Api, size: int, token: str) -> Backlog:
        url = database.url()
        netids = psql(
            url,
            f"SELECT netid FROM students WHERE NOT ferpa_protected ORDER BY netid LIMIT {size}",
        ).split()
        terms = psql(url, "SELECT id FROM sis_terms ORDER BY id DESC LIMIT 2").split()
        codes = psql(url, "SELECT id FROM dplan_codes ORDER BY id").split()
        return cls(api, token, netids, terms, codes)

    def target(self) -> Target:
        return Target(self.api.base, self.token, self.netids, self.terms, self.codes)


OPEN = """SELECT count(*) FILTER (WHERE status = 'accepted'),
                 count(*) FILTER (WHERE status IN ('accepted', 'running')) FROM tasks"""
SPAN = """SELECT count(*), extract(epoch FROM max(completed_date) - min(completed_date)),
                 count(*) FILTER (WHERE completed_date =
                                  (SELECT min(completed_date) FROM tasks WHERE status = 'complete'))
          FROM tasks WHERE status = 'complete'"""


def drain(
    database: Database,
    target: str,
    count: int,
    backlog: Backlog,
    logs: Path,
    *,
    bouncer: int | None,
    limit: float = 300.0,
) -> Run:
    """`count` workers started on a queue of the backlog's tasks (one per student, PATCHed
    through the API while no worker runs), until none is open. The rate is tasks completed after
    the first batch over the time from the first batch's completion to the last's (both
    PostgreSQL's clock); the CPU window opens when the first task is claimed, so the workers'
    start-up is not in it."""
    url = database.url()
    psql(url, "TRUNCATE tasks")
    queued = asyncio.run(fill(backlog.target(), backlog.netids))
    wal = wal_position(_dsn(database))
    processes = fleet.workers(database, target, count, logs)
    groups = {"workers": [p.pid for p in processes], "pgbouncer": [bouncer] if bouncer else []}
    dsn = _dsn(database)
    sampler = Sampler(dsn, database.name, database.port, groups, _ports(database))
    try:
        with sampler as sample:
            meter, wall, watcher = asyncio.run(_watch(dsn, database.name, queued, groups, limit))
        cpu = meter.stop({"postgres": sample.postgres_pids - {watcher}})
    finally:
        stop(processes)
    wal_used = wal_position(dsn) - wal
    done, span, first = psql(url, SPAN).split("|")
    complete, first_batch = int(done), int(first)
    seconds = float(span or 0)
    rate = (complete - first_batch) / seconds if seconds > 0 else complete / wall
    psql(url, "TRUNCATE tasks")
    return Run(
        rate=rate,
        done=complete,
        seconds=wall,
        cpu=cpu,
        backends=dict(sample.backends),
        held=dict(sample.held),
        wal_bytes=wal_used,
        errors=queued - complete,  # not accepted, or not applied within `limit`
    )


async def _watch(
    dsn: str, database: str, queued: int, groups: dict[str, list[int]], limit: float
) -> tuple[CpuMeter, float, int]:
    """Polls the queue (every 20 ms, on a connection of its own): the CPU meter started when the
    first task leaves `accepted`, the seconds from then until none is open, and the pid of the
    polling connection's backend (not the workers' load)."""
    import asyncpg

    conn: Any = await asyncpg.connect(dsn)
    own = conn.get_server_pid()
    meter: CpuMeter | None = None
    started = deadline = time.perf_counter()
    deadline += limit
    try:
        while time.perf_counter() < deadline:
            accepted, open_ = await conn.fetchrow(OPEN)
            if meter is None and accepted < queued:
                pids = postgres_pids(dsn, database) - {own}
                meter = CpuMeter({**groups, "postgres": pids})
                started = time.perf_counter()
            if open_ == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    if meter is None:  # nothing was queued
        meter = CpuMeter({**groups, "postgres": []})
    return meter, time.perf_counter() - started, own
