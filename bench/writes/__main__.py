"""`python -m bench.writes` (run by `make bench`): the write path over HTTP on PostgreSQL.

One API process (`studentgraph serve`, no in-process worker, rate limit off) and 1 or 2
`studentgraph worker` processes (their default 4 slots) on a database of generated students:

1. acceptance, workers stopped: wrk (8 connections) sending PATCH /api/students/{netid}, then
   `setDplans`, then the same PATCH to the floor (bench/writes/floor_app.py: the task's INSERT,
   its NOTIFYs and the COMMIT alone, on the same uvicorn), each for --seconds, in --rounds
   alternating rounds: accepted/s, p50/p99 of the 202 (or 200), each door over the floor.
2. workers, for 1 and then 2 workers:
   a. backlog: --backlog tasks (distinct students) queued while the workers are stopped, then
      the workers started: drain rate, tasks per second between the first and last completion;
   b. idle: one client, --idle requests one after another: accept and accept-to-COMPLETE p50/p95
      as the client sees them (the mutation's answer; the `taskUpdated` subscription's COMPLETE);
   c. loaded: --clients such clients for --seconds;
   d. throughput: wrk (8 connections) sending PATCHes for --seconds while the workers apply them:
      accepted/s, applied/s (tasks completed in the window), tasks left open at its end.
3. pause: --backlog tasks queued while 2 running workers are frozen (SIGSTOP), then thawed
   (SIGCONT): seconds from the thaw to the last task, against 2 workers freshly started on the
   same backlog (seconds from their start), in --rounds alternating rounds; paused / fresh.
4. statements: statements per task, an in-process worker (the same code) draining a queued
   backlog, with every statement, BEGIN and COMMIT counted on its engine.

`--parts acceptance,pause` runs only those (all four by default). Never run it beside another
benchmark or the tests: the machine has 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.peer.load import Result
from bench.serving import (
    STUDENTGRAPH,
    database_arguments,
    ensure_wrk,
    machine,
    prepare_database,
    psql,
    start,
    stop,
    wait_for,
)
from bench.writes import acceptance, backlogs, statements
from bench.writes.clients import Timings, fill, followed
from bench.writes.harness import Bench


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.writes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    database_arguments(p, "sg_writes")
    p.add_argument("--seconds", type=float, default=6.0, help="per timed run (6)")
    p.add_argument("--clients", type=int, default=8, help="following clients when loaded (8)")
    p.add_argument("--idle", type=int, default=40, help="sequential requests when idle (40)")
    p.add_argument("--backlog", type=int, default=1000, help="tasks queued (1000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    p.add_argument(
        "--parts",
        type=_parts,
        default=PARTS,
        help=f"comma-separated, of {','.join(PARTS)} (all)",
    )
    return p.parse_args(argv)


PARTS = ("acceptance", "workers", "pause", "statements")
PAUSED_WORKERS = 2


def _parts(text: str) -> tuple[str, ...]:
    chosen = [part for part in text.split(",") if part]
    unknown = [part for part in chosen if part not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown parts {unknown} (known: {PARTS})")
    return tuple(part for part in PARTS if part in chosen)


def steady(bench: Bench, workers: int) -> dict[str, object]:
    bench.reset()
    processes = bench.workers(workers)
    try:
        asyncio.run(followed(bench.target, 1, None, 5))  # warm: the workers are up
        idle = asyncio.run(followed(bench.target, 1, None, bench.args.idle))
        loaded = asyncio.run(followed(bench.target, bench.args.clients, bench.args.seconds, None))
        bench.wait_drained()
        bench.reset()
        started = time.time()
        flood = bench.wrk(bench.patch(), f"flood-{workers}")
        ended = time.time()
        applied = int(
            psql(
                bench.url,
                "SELECT count(*) FROM tasks WHERE status = 'complete' AND "
                f"completed_date BETWEEN to_timestamp({started}) AND to_timestamp({ended})",
            )
        )
        left = bench.open_tasks()
        bench.wait_drained()
    finally:
        stop(processes)
    return {
        "idle": idle,
        "loaded": loaded,
        "flood": flood,
        "applied": applied / (ended - started),
        "left": left,
    }


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


def _timings(t: Timings, seconds: float | None = None) -> str:
    rate = f", {len(t.completed) / seconds:.0f} completed/s" if seconds else ""
    return (
        f"accept p50 {_ms(t.accepted, 0.5)} ms; accept-to-complete p50 "
        f"{_ms(t.completed, 0.5)} ms, p95 {_ms(t.completed, 0.95)} ms "
        f"({len(t.completed)} requests, {t.errors} errors{rate})"
    )


def report(
    args: argparse.Namespace,
    accepted: dict[str, list[Result]],
    rounds: dict[int, tuple[dict[str, float], dict[str, object]]],
    pause: dict[str, list[dict[str, float]]],
    per_task: dict[str, float] | None,
) -> str:
    lines = [
        f"# Write path over HTTP ({machine(args.pg)})",
        "",
        f"python -m bench.writes --students {args.students} --seconds {args.seconds:g} "
        f"--clients {args.clients} --idle {args.idle} --backlog {args.backlog} "
        f"--rounds {args.rounds} --parts {','.join(args.parts)}",
    ]
    if accepted:
        lines += [
            "",
            f"Acceptance, workers stopped (wrk, 8 connections; medians of {args.rounds} "
            "alternating rounds, their range):",
            *acceptance.lines(accepted),
        ]
    for workers, (drain, run_) in rounds.items():
        flood = run_["flood"]
        assert isinstance(flood, Result)
        lines += [
            "",
            f"{workers} worker process{'es' if workers > 1 else ''} (4 slots each):",
            f"  backlog of {drain['queued']:.0f}: drained at {drain['rate']:.0f} tasks/s "
            f"({drain['complete']:.0f} complete, {drain['left']:.0f} left, "
            f"{drain['wall']:.1f} s from the workers' start)",
            f"  idle, 1 client: {_timings(run_['idle'])}",  # type: ignore[arg-type]
            f"  loaded, {args.clients} clients: " + _timings(run_["loaded"], args.seconds),  # type: ignore[arg-type]
            f"  PATCH flood (wrk, 8 connections): {flood.rps:.0f} accepted/s, "
            f"{run_['applied']:.0f} applied/s, {run_['left']} open at its end, "
            f"p50 {flood.p50_ms:.1f} ms",
        ]
    if pause:
        lines += ["", *backlogs.lines(pause, PAUSED_WORKERS, args.backlog)]
    if per_task is not None:
        lines += [
            "",
            f"Statements per task, in-process worker draining {per_task['tasks']:.0f} tasks: "
            f"{per_task['per_task']:.2f} ({per_task['statements']:.0f} statements incl. "
            f"BEGIN/COMMIT, {per_task['transactions']:.0f} transactions)",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reachable = subprocess.run(
        ["psql", f"postgresql://{args.pg}/postgres", "-Atc", "SELECT 1"], capture_output=True
    )
    if reachable.returncode != 0:
        print(f"bench.writes: skipped, PostgreSQL at {args.pg} is not reachable")
        return 0
    ensure_wrk()
    url = prepare_database(args.database, args.pg, max(args.students, args.backlog), args.seed)
    logs = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    bench = Bench(args, url, logs)
    api = start(
        [STUDENTGRAPH, "serve", "--port", str(bench.port)],
        {**bench.env, "RATE_LIMIT_PER_SECOND": "0", "RATE_LIMIT_COST_PER_MINUTE": "0"},
        logs / "api.log",
    )
    try:
        wait_for(bench.base, api, logs / "api.log")
        parts = args.parts
        accepted = acceptance.acceptance(bench, args.rounds) if "acceptance" in parts else {}
        rounds = {}
        if "workers" in parts:
            rounds = {n: (backlogs.fresh(bench, n), steady(bench, n)) for n in (1, 2)}
        pause = {}
        if "pause" in parts:
            pause = backlogs.pause_against_fresh(bench, PAUSED_WORKERS, args.rounds)
        bench.reset()
        if "statements" in parts:
            queued = asyncio.run(fill(bench.target, bench.target.netids[:500]))
    finally:
        stop([api])
    per_task = None
    if "statements" in parts:
        per_task = asyncio.run(statements.per_task(url, queued))
    bench.reset()
    print(report(args, accepted, rounds, pause, per_task))
    print(f"\n(logs: {logs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
