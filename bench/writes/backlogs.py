"""A backlog of tasks drained by freshly started workers, and the same backlog drained by
workers that were running, then frozen (SIGSTOP: as a long GC pause or a frozen virtual machine
does) while it built, then thawed (SIGCONT). The second is timed from the thaw."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess

from bench.peer.cpu import tree
from bench.serving import psql, stop
from bench.writes.clients import fill
from bench.writes.harness import Bench


def _drained(bench: Bench, queued: int, wall: float) -> dict[str, float]:
    done, span = psql(
        bench.url,
        "SELECT count(*), extract(epoch FROM max(completed_date) - "
        "min(completed_date)) FROM tasks WHERE status = 'complete'",
    ).split("|")
    return {
        "queued": queued,
        "complete": int(done),
        "left": bench.open_tasks(),
        "wall": wall,
        "rate": (int(done) - 1) / max(float(span or 0), 1e-6),
    }


def fresh(bench: Bench, workers: int) -> dict[str, float]:
    """The backlog queued, then `workers` started: seconds from their start to the last task."""
    bench.reset()
    queued = asyncio.run(fill(bench.target, bench.target.netids[: bench.args.backlog]))
    processes = bench.workers(workers)
    try:
        wall = bench.wait_drained()
        return _drained(bench, queued, wall)
    finally:
        stop(processes)


def _signal(processes: list[subprocess.Popen[bytes]], sig: signal.Signals) -> None:
    for process in processes:
        for pid in tree(process.pid):
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(pid, sig)


def paused(bench: Bench, workers: int) -> dict[str, float]:
    """`workers` started and proven working (a few tasks done), frozen while the backlog is
    queued, thawed: seconds from the thaw to the last task."""
    bench.reset()
    processes = bench.workers(workers)
    try:
        asyncio.run(fill(bench.target, bench.target.netids[: 2 * workers]))
        bench.wait_drained()
        bench.reset()
        _signal(processes, signal.SIGSTOP)
        try:
            queued = asyncio.run(fill(bench.target, bench.target.netids[: bench.args.backlog]))
        finally:
            _signal(processes, signal.SIGCONT)
        wall = bench.wait_drained()
        return _drained(bench, queued, wall)
    finally:
        _signal(processes, signal.SIGCONT)
        stop(processes)


def pause_against_fresh(
    bench: Bench, workers: int, rounds: int
) -> dict[str, list[dict[str, float]]]:
    """Both, in alternating order, `rounds` times."""
    runs: dict[str, list[dict[str, float]]] = {"fresh": [], "paused": []}
    for i in range(rounds):
        for name in ("fresh", "paused") if i % 2 == 0 else ("paused", "fresh"):
            runs[name].append((fresh if name == "fresh" else paused)(bench, workers))
    return runs


def lines(runs: dict[str, list[dict[str, float]]], workers: int, backlog: int) -> list[str]:
    walls = {name: [r["wall"] for r in rs] for name, rs in runs.items()}
    paired = [p / f for p, f in zip(walls["paused"], walls["fresh"], strict=True)]
    out = [f"Backlog of {backlog} with {workers} worker processes, paused against fresh:"]
    for name, rs in runs.items():
        w = walls[name]
        spread = f" ({min(w):.1f}-{max(w):.1f})" if len(w) > 1 else ""
        since = "the thaw" if name == "paused" else "the workers' start"
        left = sum(r["left"] for r in rs)
        out.append(
            f"  {name:<7} {statistics.median(w):.1f} s{spread} from {since}; "
            f"{sum(r['complete'] for r in rs) / len(rs):.0f} complete, {left:.0f} left"
        )
    ratio = statistics.median(walls["paused"]) / statistics.median(walls["fresh"])
    spread = f" (rounds {min(paired):.2f}x-{max(paired):.2f}x)" if len(paired) > 1 else ""
    out.append(f"  paused / fresh: {ratio:.2f}x the wall time{spread}")
    return out
