"""The event loop's prober: runs beside a resource test and fails it if any request held the
event loop past `MAX_STALL_SECONDS` (issue 19: a bound on blocking, asserted, not a benchmark).

Two watchers share the test's event loop with the in-process app:
- a ticker that wakes every `TICK_SECONDS` and reads the loop thread's CPU time: CPU spent between
  two ticks is work that held the loop without yielding (parsing, encoding, garbage collection).
  CPU time, not wall time, because this 2-core machine runs other processes too: a loop that is
  merely preempted loses wall time but spends no CPU, and is not a stall of ours;
- a `/healthz` prober, one request through the app's whole middleware every `PROBE_SECONDS`,
  whose slowest answer is reported beside the stall (wall time: shown, not asserted).

    async with loop_prober(client) as prober:
        ... the hostile requests ...
    prober.assert_no_stall()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

MAX_STALL_SECONDS = 0.100
TICK_SECONDS = 0.005
PROBE_SECONDS = 0.025


@dataclass
class LoopProber:
    longest_cpu: float = 0.0  # the most CPU the loop spent between two ticks
    longest_gap: float = 0.0  # the longest wall time between two ticks (shown, not asserted)
    slowest_healthz: float = 0.0
    healthz_answers: int = 0
    healthz_failures: list[int] = field(default_factory=list)

    def assert_no_stall(self) -> None:
        shown = (
            f"longest hold {self.longest_cpu * 1000:.0f} ms of CPU"
            f" (longest gap {self.longest_gap * 1000:.0f} ms; slowest /healthz"
            f" {self.slowest_healthz * 1000:.0f} ms of {self.healthz_answers})"
        )
        assert self.longest_cpu <= MAX_STALL_SECONDS, f"the event loop stalled: {shown}"
        assert self.healthz_answers > 0, f"/healthz never answered: {shown}"
        assert not self.healthz_failures, f"/healthz failed {self.healthz_failures}: {shown}"

    async def _tick(self) -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now_cpu, now_wall = time.thread_time(), time.perf_counter()
            # The sleep itself costs a few microseconds of CPU; everything else is others' work.
            self.longest_cpu = max(self.longest_cpu, now_cpu - cpu)
            self.longest_gap = max(self.longest_gap, now_wall - wall - TICK_SECONDS)
            cpu, wall = now_cpu, now_wall

    async def _probe(self, client: httpx.AsyncClient) -> None:
        while True:
            started = time.perf_counter()
            answer = await client.get("/healthz")
            self.slowest_healthz = max(self.slowest_healthz, time.perf_counter() - started)
            self.healthz_answers += 1
            if answer.status_code != 200:
                self.healthz_failures.append(answer.status_code)
            await asyncio.sleep(PROBE_SECONDS)


@contextlib.asynccontextmanager
async def loop_prober(client: httpx.AsyncClient) -> AsyncIterator[LoopProber]:
    """Watches the loop (and probes `/healthz` through `client`) while the block runs."""
    prober = LoopProber()
    tasks = [asyncio.create_task(prober._tick()), asyncio.create_task(prober._probe(client))]
    await asyncio.sleep(0)  # both watchers started before the first hostile request
    try:
        yield prober
        await asyncio.sleep(PROBE_SECONDS * 2)  # at least one probe after the last request
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
