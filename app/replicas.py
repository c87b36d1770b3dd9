"""Streaming replicas that serve planned reads (DATABASE_REPLICA_URLS; docs/operations/replicas.md).

A planned read (a GraphQL query the planner answers, a REST GET of students or plans) runs on a
replica when one is usable: up, and no further behind the primary than
DATABASE_REPLICA_MAX_LAG_SECONDS. Whether it is, is known from a probe every `PROBE_SECONDS`
(not a statement per request) and from the reads themselves: a replica whose read fails because
it cannot be reached is skipped at once, and the read runs on the primary instead. Each change of
a replica's state is logged once. Everything that writes (tasks, found sets, persisted queries,
disclosure records), task reads (read-your-writes) and LISTEN stay on the primary."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine, database_cause
from app.metrics import READS, REPLICA_LAG

log = logging.getLogger("app.replicas")
PROBE_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 2.0
PRIMARY = "primary"  # the `target` label of reads the primary served
# The primary's WAL position, then, on the replica, whether it has replayed that far and how old
# its last replayed transaction is. Caught up, its lag is 0 however old that transaction (an
# idle primary writes nothing to replay); behind, the lag is the age of what it last replayed.
PRIMARY_POSITION = "SELECT pg_current_wal_lsn()::text"
REPLICA_POSITION = (
    "SELECT pg_is_in_recovery(), "
    "coalesce(pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS TEXT) AS pg_lsn), false), "
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
)


@dataclass
class Replica:
    """One replica: `name` ("replica1", ...) is what logs and metrics call it, never its URL
    (which may hold a password)."""

    name: str
    engine: AsyncEngine
    usable: bool = False
    said: str | None = None  # why it is skipped, as last logged (None: usable, or not yet probed)

    def skip(self, why: str) -> None:
        """Not used for reads until a probe finds it usable again; logged once per cause."""
        self.usable = False
        if why != self.said:
            log.warning("replica skipped", extra={"replica": self.name, "error": why})
            self.said = why

    def use(self, lag: float) -> None:
        REPLICA_LAG.labels(self.name).set(lag)
        if not self.usable and self.said is not None:
            log.warning("replica serves reads again", extra={"replica": self.name})
        self.usable, self.said = True, None


class Replicas:
    """The replicas of a process (none without DATABASE_REPLICA_URLS) and the primary's engine,
    which the probe asks for its WAL position and every read falls back to."""

    def __init__(self, primary: AsyncEngine, replicas: list[Replica], max_lag: float) -> None:
        self.primary, self.replicas, self.max_lag = primary, replicas, max_lag
        self._turns = itertools.cycle(replicas) if replicas else None

    @classmethod
    def of(cls, settings: Settings, primary: AsyncEngine) -> Replicas:
        replicas = [
            Replica(f"replica{i}", create_engine(settings, url))
            for i, url in enumerate(settings.database_replica_urls, start=1)
        ]
        return cls(primary, replicas, settings.database_replica_max_lag_seconds)

    def choose(self) -> Replica | None:
        """The next usable replica in turn, or None (read on the primary)."""
        if self._turns is None:
            return None
        for _ in self.replicas:
            replica = next(self._turns)
            if replica.usable:
                return replica
        return None

    @staticmethod
    def served(target: str) -> None:
        READS.labels(target).inc()

    async def probe(self) -> None:
        """Each replica's lag, once: usable within the max lag, skipped past it or down."""
        if not self.replicas:
            return
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), self.primary.connect() as c:
                lsn = str((await c.execute(text(PRIMARY_POSITION))).scalar_one())
        except Exception:  # the primary's health is /readyz's to report
            return  # without the primary's position no lag is known: each stays as it was
        await asyncio.gather(*(self._probe(replica, lsn) for replica in self.replicas))

    async def _probe(self, replica: Replica, lsn: str) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), replica.engine.connect() as c:
                row = (await c.execute(text(REPLICA_POSITION), {"lsn": lsn})).one()
        except Exception as exc:  # any failure: unusable, with its cause
            replica.skip(f"down: {database_cause(exc) or 'no answer in time'}")
            return
        in_recovery, caught_up, age = row
        if not in_recovery:
            replica.skip("not a replica (not in recovery): promoted, or another primary")
            return
        lag = 0.0 if caught_up else float(age if age is not None else float("inf"))
        REPLICA_LAG.labels(replica.name).set(lag)
        if lag > self.max_lag:
            replica.skip(f"behind the primary by more than {self.max_lag:g} s")
        else:
            replica.use(lag)

    @contextlib.asynccontextmanager
    async def probing(self) -> AsyncIterator[None]:
        """Probed once before the first read, then every PROBE_SECONDS while inside."""
        if not self.replicas:
            yield
            return
        await self.probe()

        async def loop() -> None:
            while True:
                await asyncio.sleep(PROBE_SECONDS)
                await self.probe()

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for replica in self.replicas:
                await replica.engine.dispose()
