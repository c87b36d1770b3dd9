"""`python -m bench.writes` (run by `make bench`): the write path over HTTP on PostgreSQL.

One API process (`studentgraph serve`, no in-process worker, rate limit off) and 1 or 2
`studentgraph worker` processes (their default 4 slots) on a database of generated students:

1. Acceptance, workers stopped: wrk (8 connections) sending PATCH /api/students/{netid}, then
   `setDplans`, each for --seconds: accepted/s, p50/p99 of the 202 (or 200).
2. For 1 and then 2 workers:
   a. backlog: --backlog tasks (distinct students) queued while the workers are stopped, then
      the workers started: drain rate, tasks per second between the first and last completion;
   b. idle: one client, --idle requests one after another: accept and accept-to-COMPLETE p50/p95
      as the client sees them (the mutation's answer; the `taskUpdated` subscription's COMPLETE);
   c. loaded: --clients such clients for --seconds;
   d. throughput: wrk (8 connections) sending PATCHes for --seconds while the workers apply them:
      accepted/s, applied/s (tasks completed in the window), tasks left open at its end.
3. Statements per task: an in-process worker (the same code) draining a queued backlog, with
   every statement, BEGIN and COMMIT counted on its engine.

Never run it beside another benchmark or the tests: the machine has 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.peer.load import Request, Result, lua_script, wrk
from bench.serving import (
    STUDENTGRAPH,
    database_arguments,
    ensure_wrk,
    machine,
    prepare_database,
    psql,
    run,
    start,
    stop,
    wait_for,
)
from bench.writes import statements
from bench.writes.clients import SET_DPLANS, Target, Timings, fill, followed

PORT = 8720
BASE = f"http://127.0.0.1:{PORT}"


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
    return p.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace, url: str, logs: Path) -> None:
        self.args = args
        self.url = url
        self.logs = logs
        self.env = {"DATABASE_URL": url, "WORKER_IN_PROCESS": "false"}
        netids = psql(url, "SELECT netid FROM students WHERE NOT ferpa_protected ORDER BY netid")
        terms = psql(url, "SELECT id FROM sis_terms ORDER BY id DESC LIMIT 2")
        codes = psql(url, "SELECT id FROM dplan_codes ORDER BY id")
        token = run(
            STUDENTGRAPH, "token", "--sub", "bench-writes", "--lifetime", "86400", env=self.env
        ).strip()
        self.target = Target(BASE, token, netids.split(), terms.split(), codes.split())
        self.keys = logs / "netids.txt"
        self.keys.write_text("\n".join(self.target.netids) + "\n")

    def reset(self) -> None:
        psql(self.url, "TRUNCATE tasks")

    def open_tasks(self) -> int:
        return int(
            psql(self.url, "SELECT count(*) FROM tasks WHERE status IN ('accepted', 'running')")
        )

    def workers(self, n: int) -> list[subprocess.Popen[bytes]]:
        return [
            start([STUDENTGRAPH, "worker"], self.env, self.logs / f"worker{i}.log")
            for i in range(n)
        ]

    def wait_drained(self, limit: float = 120.0) -> float:
        started = time.perf_counter()
        while self.open_tasks() and time.perf_counter() - started < limit:
            time.sleep(0.1)
        return time.perf_counter() - started

    def wrk(self, request: Request, name: str) -> Result:
        script = lua_script(request, self.keys, self.logs / f"{name}.lua")
        return wrk(BASE, script, seconds=self.args.seconds)

    def patch(self) -> Request:
        body = self.target.patch_body(0).decode()
        return Request("PATCH", "/api/students/@KEY@", body.encode(), self._headers())

    def set_dplans(self) -> Request:
        variables = {"netid": "@KEY@", "dplans": self.target.dplans(1)}
        body = orjson.dumps({"query": SET_DPLANS, "variables": variables})
        return Request("POST", "/graphql", body, self._headers())

    def _headers(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Authorization", f"Bearer {self.target.token}"),
            ("Content-Type", "application/json"),
        )


def acceptance(bench: Bench) -> dict[str, Result]:
    results = {}
    for name, request in (("PATCH", bench.patch()), ("setDplans", bench.set_dplans())):
        bench.reset()
        bench.wrk(request, f"warm-{name}")
        bench.reset()
        results[name] = bench.wrk(request, name)
    bench.reset()
    return results


def backlog(bench: Bench, workers: int) -> dict[str, float]:
    bench.reset()
    netids = bench.target.netids[: bench.args.backlog]
    queued = asyncio.run(fill(bench.target, netids))
    processes = bench.workers(workers)
    try:
        wall = bench.wait_drained()
        left = bench.open_tasks()
    finally:
        stop(processes)
    done, span = psql(
        bench.url,
        "SELECT count(*), extract(epoch FROM max(completed_date) - "
        "min(completed_date)) FROM tasks WHERE status = 'complete'",
    ).split("|")
    return {
        "queued": queued,
        "complete": int(done),
        "left": left,
        "wall": wall,
        "rate": (int(done) - 1) / max(float(span), 1e-6),
    }


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
    accepted: dict[str, Result],
    rounds: dict[int, tuple[dict[str, float], dict[str, object]]],
    per_task: dict[str, float],
) -> str:
    lines = [
        f"# Write path over HTTP ({machine(args.pg)})",
        "",
        f"python -m bench.writes --students {args.students} --seconds {args.seconds:g} "
        f"--clients {args.clients} --idle {args.idle} --backlog {args.backlog}",
        "",
        "Acceptance, workers stopped (wrk, 8 connections):",
    ]
    for name, r in accepted.items():
        lines.append(
            f"  {name:<10} {r.rps:7.0f} accepted/s  p50 {r.p50_ms:.1f} ms  "
            f"p99 {r.p99_ms:.1f} ms  non-2xx {r.errors}"
        )
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
        [STUDENTGRAPH, "serve", "--port", str(PORT)],
        {**bench.env, "RATE_LIMIT_PER_SECOND": "0", "RATE_LIMIT_COST_PER_MINUTE": "0"},
        logs / "api.log",
    )
    try:
        wait_for(BASE, api, logs / "api.log")
        accepted = acceptance(bench)
        rounds = {n: (backlog(bench, n), steady(bench, n)) for n in (1, 2)}
        bench.reset()
        queued = asyncio.run(fill(bench.target, bench.target.netids[:500]))
    finally:
        stop([api])
    per_task = asyncio.run(statements.per_task(url, queued))
    bench.reset()
    print(report(args, accepted, rounds, per_task))
    print(f"\n(logs: {logs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
