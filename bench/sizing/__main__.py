"""`python -m bench.sizing` (run by `make bench`): what one API process, one worker and one
PostgreSQL carry on this machine, and how that scales with processes, directly and through
PgBouncer. The figures of docs/operations/sizing.md.

1. Data: bench-peer's database of generated students (`sg_peer`; created, migrated and filled
   as `make bench-peer` does), then `migrate` through the pooler (the role's statement timeout).
2. Processes: PgBouncer of the bench's own (Debian's, transaction pooling, `default_pool_size`
   --pooler-pool, in front of the same PostgreSQL; installed when missing and run as root), and
   for each target (`direct`, `pgbouncer`) as many API processes as the largest --processes:
   `studentgraph serve`, each on a port of its own, rate limit off, no in-process worker. Behind
   the pooler they run with DATABASE_POOLER=transaction and DATABASE_LISTEN_URL to PostgreSQL.
   Separate processes rather than `serve --workers N`: wrk drives each over its own connections,
   so the load is spread evenly as a load balancer spreads it (uvicorn's workers share one
   socket and the kernel hands a few keep-alive connections to whichever accepts first), and
   each process's CPU and connections are its own to count. A `--workers N` process is the same
   N processes (each its own pool and LISTEN connection) behind one port.
3. Reads: for each target and each count N of --processes, wrk with --connections connections
   to each of N API processes at once (bench-peer's requests, --scenario), --seconds per run, in
   --rounds alternating rounds (every configuration once per round, the order reversed every
   other round); medians. While each run goes: CPU of the API processes, of PostgreSQL's
   processes (the database's backends and its background processes) and of PgBouncer, from
   /proc; the connections each process holds to PostgreSQL and to PgBouncer (its sockets), and
   the database's backends by who holds them (pg_stat_activity's client ports), sampled every
   0.25 s.
4. Tasks: for each target and 1 and 2 `studentgraph worker` processes (4 slots each), a backlog
   of --backlog tasks (PATCH of distinct students, accepted while no worker runs) drained, in
   --rounds alternating rounds: tasks/s from the first batch's completion to the last, CPU and
   connections as above from the first claim until none is open.
   Around the read runs (after --settle seconds each side, for PostgreSQL's statistics): the
   primary's commits, WAL flushes and WAL records per read (each read that shows a student
   commits its disclosure record before its answer); WAL bytes per read and per task, exactly,
   from the WAL position around each run.
5. Prints the tables and writes every figure to --output (JSON).

Never run it beside another benchmark or the tests: the machine has 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.peer import scenarios
from bench.peer.load import lua_script, wrk
from bench.serving import ROOT, database_arguments, ensure_wrk, machine, prepare_database
from bench.sizing import fleet, measure, report
from bench.sizing.fleet import DIRECT, POOLED, Database

SCENARIOS = {s.key: s for s in scenarios.LOADED}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.sizing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    database_arguments(p, "sg_peer")
    p.add_argument("--processes", default="1,2,4", help="API process counts (1,2,4)")
    p.add_argument("--targets", default=f"{DIRECT},{POOLED}", help="direct,pgbouncer")
    p.add_argument("--scenario", default="one", choices=sorted(SCENARIOS), help="reads (one)")
    p.add_argument("--seconds", type=float, default=5.0, help="per wrk run (5)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections per process (8)")
    p.add_argument("--workers", default="1,2", help="worker process counts (1,2)")
    p.add_argument("--backlog", type=int, default=2000, help="tasks per drain (2000)")
    p.add_argument("--pooler-pool", type=int, default=20, help="PgBouncer default_pool_size (20)")
    p.add_argument(
        "--settle",
        type=float,
        default=measure.SETTLE_SECONDS,
        help="seconds waited for PostgreSQL's statistics before and after the reads (11)",
    )
    p.add_argument("--output", default=str(ROOT / "var" / "bench" / "sizing.json"))
    # bench.peer's context carries the walk's page size; sizing runs no walk
    p.set_defaults(page_size=scenarios.Context.page_size)
    return p.parse_args(argv)


def _counts(text: str) -> list[int]:
    return sorted({int(n) for n in text.split(",") if n})


def alternating(configs: list[Any], rounds: int) -> list[Any]:
    """Every configuration once per round, in reverse order every other round: a drift of the
    machine over the run then does not favour one configuration in every round."""
    order = []
    for i in range(rounds):
        order += configs if i % 2 == 0 else configs[::-1]
    return order


def command_line(argv: list[str] | None) -> str:
    return " ".join(["python -m bench.sizing", *(argv if argv is not None else sys.argv[1:])])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reachable = subprocess.run(
        ["psql", f"postgresql://{args.pg}/postgres", "-Atc", "SELECT 1"], capture_output=True
    )
    if reachable.returncode != 0:
        print(f"bench.sizing: skipped, PostgreSQL at {args.pg} is not reachable")
        return 0
    ensure_wrk()
    processes, worker_counts = _counts(args.processes), _counts(args.workers)
    wanted = [t for t in args.targets.split(",") if t]
    unknown = set(wanted) - {DIRECT, POOLED}
    if unknown or not processes:
        sys.exit(f"bench.sizing: --targets takes {DIRECT},{POOLED}; --processes at least one")
    url = prepare_database(args.database, args.pg, max(args.students, args.backlog), args.seed)
    database = Database.parse(args.pg, args.database)
    dsn = url.replace("+asyncpg", "")
    context = scenarios.Context.create(url, args)
    logs = Path(tempfile.mkdtemp(prefix="bench-sizing-"))
    script = lua_script(
        SCENARIOS[args.scenario].requests(context, ("project",))["project"],
        context.keys_file,
        logs / "r.lua",
    )
    most = max(processes)
    reads: dict[tuple[str, int], list[measure.Run]] = {}
    tasks: dict[tuple[str, int], list[measure.Run]] = {}
    with fleet.pgbouncer(database, args.pooler_pool, max_clients=1000) as bouncer:
        targets = [t for t in wanted if t == DIRECT or bouncer is not None]
        if POOLED in targets:
            fleet.migrate_through_pooler(database)
        with fleet.apis(database, targets, most, logs) as apis:
            by_target = {t: [a for a in apis if a.target == t] for t in targets}
            configs = [(t, n) for t in targets for n in processes]
            for target, n in configs:  # warm: every pool filled to its load
                for api in by_target[target][:n]:
                    wrk(api.base, script, seconds=1, connections=args.connections)
            before = measure.counters(dsn, args.settle)
            for target, n in alternating(configs, args.rounds):
                print(f"reads: {target}, {n} API process(es) ...", flush=True)
                reads.setdefault((target, n), []).append(
                    measure.reads(
                        database,
                        by_target[target][:n],
                        script,
                        seconds=args.seconds,
                        connections=args.connections,
                        bouncer=bouncer if target == POOLED else None,
                    )
                )
            after = measure.counters(dsn, args.settle)
            backlog = measure.Backlog.create(database, apis[0], args.backlog, context.token)
            drains = [(t, n) for t in targets for n in worker_counts]
            for target, n in alternating(drains, args.rounds):
                print(f"tasks: {target}, {n} worker(s) ...", flush=True)
                tasks.setdefault((target, n), []).append(
                    measure.drain(
                        database,
                        target,
                        n,
                        backlog,
                        logs,
                        bouncer=bouncer if target == POOLED else None,
                    )
                )
    read_rows = [
        {"target": t, "processes": n, **report.summary(runs, "api")}
        for (t, n), runs in sorted(reads.items())
    ]
    task_rows = [
        {"target": t, "workers": n, **report.summary(runs, "workers")}
        for (t, n), runs in sorted(tasks.items())
    ]
    primary = report.per_read(before, after, reads)
    figures: dict[str, Any] = {
        "command": command_line(argv),
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(args.pg),
        "arguments": vars(args),
        "reads": read_rows,
        "tasks": task_rows,
        "model": report.model(read_rows, task_rows),
        "primary": primary,
    }
    header = (
        f"# Sizing ({figures['machine']})\n\n{figures['command']}\n\n"
        f"Reads ({SCENARIOS[args.scenario].title}; wrk, {args.connections} connections per API "
        f"process; medians of {args.rounds} alternating rounds of {args.seconds:g} s):\n"
    )
    print(header)
    print("\n".join(report.reads_table(read_rows)))
    print(
        "\nOn the primary, per read over all the read runs: "
        f"{primary['commits_per_read']:.2f} commits, "
        f"{primary['wal_flushes_per_read']:.3f} WAL flushes, "
        f"{primary['wal_records_per_read']:.1f} WAL "
        f"records (statistics after {args.settle:g} s for backends to report them)"
    )
    print(f"\nTasks (a backlog of {args.backlog} drained; medians of {args.rounds} rounds):\n")
    print("\n".join(report.tasks_table(task_rows)))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\n(figures: {output}; logs: {logs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
