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
# The primary's WAL position, then, on the replica, how far it has replayed and how old its last
# replayed transaction is. See `Replica.lag`.
PRIMARY_POSITION = "SELECT pg_current_wal_lsn()::text"
REPLICA_POSITION = (
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
)


def lsn(text: str | None) -> int:
    """A WAL position (`16/B374D848`) as a number; 0 for none."""
    if not text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass
class Replica:
    """One replica: `name` ("replica1", ...) is what logs and metrics call it, never its URL
    (which may hold a password)."""

    name: str
    engine: AsyncEngine  # the reads'
    probe_engine: AsyncEngine  # the probe's own connection: a probe cut off by its timeout
    # leaves no connection in the middle of a statement for a read to meet
    usable: bool = False
    said: str | None = None  # why it is skipped, as last logged (None: usable, or not yet probed)
    # The primary's position at the previous probe, and when it was read (monotonic seconds).
    previous: tuple[int, float] = (0, 0.0)

    def lag(self, primary: int, replayed: int, age: float | None, now: float) -> float:
        """How far behind it is: 0 when it has replayed all the primary had written at this
        probe (however old its last replayed transaction: an idle primary writes nothing to
        replay); else the age of its last replayed transaction, but no more than the time since
        the previous probe when it had replayed what the primary had written then (after an
        idle hour, the first write would otherwise make it look an hour behind until replayed)."""
        before, then = self.previous
        self.previous = (primary, now)
        if replayed >= primary:
            return 0.0
        behind = float("inf") if age is None else max(age, 0.0)
        if before and replayed >= before:
            behind = min(behind, now - then)
        return behind

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
        one = settings.model_copy(update={"database_pool_size": 1, "database_max_overflow": 0})
        replicas = [
            Replica(f"replica{i}", create_engine(settings, url), create_engine(one, url))
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
                position = lsn((await c.execute(text(PRIMARY_POSITION))).scalar_one())
        except Exception:  # the primary's health is /readyz's to report
            return  # without the primary's position no lag is known: each stays as it was
        await asyncio.gather(*(self._probe(replica, position) for replica in self.replicas))

    async def _probe(self, replica: Replica, position: int) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), replica.probe_engine.connect() as c:
                row = (await c.execute(text(REPLICA_POSITION))).one()
        except Exception as exc:  # any failure: unusable, with its cause
            replica.skip(f"down: {database_cause(exc) or 'no answer in time'}")
            return
        in_recovery, replayed, age = row
        if not in_recovery:
            replica.skip("not a replica (not in recovery): promoted, or another primary")
            return
        now = asyncio.get_running_loop().time()
        lag = replica.lag(position, lsn(replayed), None if age is None else float(age), now)
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
                await replica.probe_engine.dispose()
