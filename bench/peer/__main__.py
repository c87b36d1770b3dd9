"""`make bench-peer`: the project against PostGraphile v4, PostGraphile v5 and the floor, over
HTTP, on one PostgreSQL database of generated students.

1. Data: `studentgraph migrate` and `generate --students N --seed S` into DATABASE (created, and
   refilled only when its counts are not those of N students); PostGraphile's computed column
   for `currentTermOffset` (bench/peer/contenders.py).
2. Servers, one process each on 127.0.0.1 (bench/peer/contenders.py): the project
   (`studentgraph serve`, its defaults), the project with `DISCLOSURE_RECORDS=false`,
   PostGraphile v4 and v5 (each pinned, installed by npm ci on first use; v5 on Node 22 from
   npm) and the floor (bench/peer/floor_app.py: plain SQL, assembled in Python, the same uvicorn).
3. Check: every system answers every scenario with the same counts of students, terms, plans,
   D-plans and the same term offsets, and reports its SQL statements per request.
4. Time: wrk, 8 connections (`--connections`), alternating rounds (project, unrecorded,
   PostGraphile v4, v5, floor, ...); medians and the range of the rounds. Each run also reads
   the CPU time that the server's process tree, the PostgreSQL processes of the database and the
   whole machine spent (bench/peer/cpu.py), per request.
   "5,000 students with their terms" is one sequential client fetching them as a client would
   with each system's default settings: the project's pages of 100 (its cap), PostGraphile's one
   list (it has no cap), the floor's one answer.

    python -m bench.peer --only light --systems project,postgraphile5,floor
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.peer import contenders, scenarios
from bench.peer.cpu import Cost, Meter
from bench.peer.load import alternating_fetches, lua_script, wrk
from bench.peer.report import Measured, report
from bench.serving import database_arguments, machine, prepare_database


def _choice(text: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = tuple(item for item in text.split(",") if item)
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)} (known: {known})")
    return tuple(k for k in known if k in chosen)  # in the bench's own order


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.peer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    database_arguments(p, "sg_peer")
    p.add_argument("--seconds", type=float, default=8.0, help="per wrk run (8)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    p.add_argument("--fetches", type=int, default=5, help="timed 5,000-student fetches (5)")
    p.add_argument(
        "--page-size",
        type=int,
        default=100,
        help="the project's page in the 5,000-student walk (100, its cap by default)",
    )
    p.add_argument(
        "--only",
        type=lambda t: _choice(t, scenarios.KEYS, "scenario"),
        default=scenarios.KEYS,
        help=f"scenarios, comma-separated, of {','.join(scenarios.KEYS)} (all)",
    )
    p.add_argument(
        "--systems",
        type=lambda t: _choice(t, contenders.SYSTEMS, "system"),
        default=contenders.SYSTEMS,
        help=f"systems, comma-separated, of {','.join(contenders.SYSTEMS)} (all)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    systems: tuple[str, ...] = args.systems
    if args.free_ports:
        contenders.use_free_ports()
    contenders.prepare_tools(systems)
    url = prepare_database(args.database, args.pg, args.students, args.seed)
    plain = url.replace("+asyncpg", "")
    contenders.computed_column(url)
    context = scenarios.Context.create(url, args)
    with contenders.servers(url, systems, debug_sql=True) as running:
        scenarios.find_cursors(context, running)
        counts = scenarios.check(context, running, args.only)
    table: dict[str, dict[str, list[Measured]]] = {}
    n = args.connections
    with (
        contenders.servers(url, systems, debug_sql=False) as running,
        tempfile.TemporaryDirectory() as tmp,
    ):
        scenarios.find_cursors(context, running)  # (servers restarted: asked again)

        def meter(system: str) -> Meter:
            return Meter(running[system].pid, plain, args.database)

        for scenario in scenarios.LOADED:
            if scenario.key not in args.only:
                continue
            scripts = {
                system: lua_script(
                    request, context.keys_file, Path(tmp) / f"{scenario.key}-{system}.lua"
                )
                for system, request in scenario.requests(context, systems).items()
            }
            for system, script in scripts.items():  # warm (and the pools opened)
                wrk(running[system].base, script, seconds=1, connections=n)
            runs = table.setdefault(scenario.key, {})
            for _ in range(args.rounds):
                for system, script in scripts.items():
                    started = meter(system)
                    result = wrk(running[system].base, script, seconds=args.seconds, connections=n)
                    cost = started.read().per(result.requests)
                    runs.setdefault(system, []).append(Measured(result, cost))
        walks: dict[str, list[tuple[float, Cost | None]]] = {}
        if scenarios.WALK in args.only:
            fetches = {
                system: (fetch, running[system].base)
                for system, fetch in scenarios.fetchers(context, systems).items()
            }
            walks = alternating_fetches(fetches, args.fetches, lambda s: meter(s).read)
    titles = {s.key: s.title for s in scenarios.LOADED}
    text = report(
        titles, table, walks, counts, machine(args.pg), args, scenarios.FETCHED, args.page_size
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
