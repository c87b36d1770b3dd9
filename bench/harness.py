"""Timing loops, percentiles and the SQL statement counter."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import statement_hooks

Op = Callable[[], Awaitable[Any]]


@dataclass
class Measurement:
    """What one loop of one operation did: how many, how long, each latency."""

    requests: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[rank]

    @classmethod
    def merged(cls, parts: list[Measurement]) -> Measurement:
        return cls(
            sum(m.requests for m in parts),
            sum(m.seconds for m in parts),
            [x for m in parts for x in m.latencies_ms],
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p95_ms": round(self.percentile(95), 3),
        }


async def measure(op: Op, duration: float, warmup: int, min_requests: int = 2) -> Measurement:
    """Run `op` one call at a time: `warmup` calls untimed, then for `duration` seconds (and at
    least `min_requests` calls). Sequential on purpose: latency and rate then describe the work
    a request costs, not how the event loop interleaves many of them."""
    for _ in range(warmup):
        await op()
    latencies: list[float] = []
    clock = time.perf_counter
    started = clock()
    deadline = started + duration
    while True:
        t0 = clock()
        await op()
        t1 = clock()
        latencies.append((t1 - t0) * 1000.0)
        if t1 >= deadline and len(latencies) >= min_requests:
            break
    return Measurement(len(latencies), clock() - started, latencies)


class StatementCounter:
    """Counts what the engine sends: through SQLAlchemy (`before_cursor_execute`) or straight on
    the driver (`app.db.fetch_row`, the one-statement reads)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def driver_statement(self, statement: str) -> None:
        self.statements.append(statement)


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", counter)
    statement_hooks.append(counter.driver_statement)
    try:
        yield counter
    finally:
        event.remove(sync_engine, "before_cursor_execute", counter)
        statement_hooks.remove(counter.driver_statement)


async def statements_per_call(engine: AsyncEngine, op: Op, calls: int) -> float:
    """Mean statements per call of `op`, counted outside the timed loop (the listener costs)."""
    with counting(engine) as counter:
        for _ in range(calls):
            await op()
    return len(counter.statements) / calls
