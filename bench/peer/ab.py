"""`python -m bench.peer.ab`: the project against itself under two environments (A and B), over
HTTP on the bench-peer database, with what each request costs in CPU. By default B is
`DISCLOSURE_RECORDS=false`: what disclosure records cost.

Both run as `studentgraph serve` (one process each, the rate limit off, A's and B's variables on
top of this environment). For each scenario of bench-peer (project's requests only), wrk drives
A and B in rounds, each side first in every other round; each run reports req/s and CPU
microseconds per request of the API process tree, of the PostgreSQL processes of the database
and of the whole machine (bench/peer/cpu.py: from /proc; the PostgreSQL figure misses backends
that exit mid-round). Medians; A/B
is A's req/s over B's, with the range of each round's own A/B.

    python -m bench.peer.ab                                   # records on vs off
    python -m bench.peer.ab --a-env DATABASE_MAX_OVERFLOW=10 --b-env DATABASE_MAX_OVERFLOW=0 \\
        --connections 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.peer import scenarios
from bench.peer.contenders import Running
from bench.peer.cpu import Meter
from bench.peer.load import lua_script, wrk
from bench.serving import (
    VENV_BIN,
    database_arguments,
    ensure_wrk,
    free_port,
    machine,
    prepare_database,
    wait_for,
)

PORTS = {"A": 8720, "B": 8721}


@dataclass(frozen=True)
class Round:
    rps: float
    api_us: float  # CPU per request of the API process
    postgres_us: float  # of the PostgreSQL processes
    machine_us: float  # of the whole machine (wrk and the kernel included)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.peer.ab", description=__doc__)
    p.add_argument("--a-env", default="", help="A's variables: K=V,K=V (none)")
    p.add_argument("--b-env", default="DISCLOSURE_RECORDS=false", help="B's variables")
    database_arguments(p, "sg_peer")
    p.add_argument("--seconds", type=float, default=5.0, help="per wrk run (5)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    p.add_argument("--only", default="", help="scenario keys, comma-separated (all)")
    p.add_argument("--page-size", type=int, default=100, help=argparse.SUPPRESS)  # (Context)
    return p.parse_args(argv)


def variables(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


@contextmanager
def servers(url: str, envs: dict[str, dict[str, str]]) -> Iterator[dict[str, int]]:
    logs = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, env in envs.items():
            command = [str(VENV_BIN / "studentgraph"), "serve", "--port", str(PORTS[name])]
            extra = {"DATABASE_URL": url, "RATE_LIMIT_PER_SECOND": "0", **env}
            extra.setdefault("RATE_LIMIT_COST_PER_MINUTE", "0")
            processes[name] = subprocess.Popen(
                command,
                stdout=open(logs / f"{name}.log", "w"),  # noqa: SIM115 (closed with the process)
                stderr=subprocess.STDOUT,
                env={**os.environ, **extra},
            )
        for name, process in processes.items():
            wait_for(f"http://127.0.0.1:{PORTS[name]}", process, logs / f"{name}.log")
        yield {name: process.pid for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(10)


def measured(url: str, script: Path, pid: int, args: argparse.Namespace) -> Round:
    plain = f"postgresql://{args.pg}/{args.database}"
    meter = Meter(pid, plain, args.database)
    result = wrk(url, script, seconds=args.seconds, connections=args.connections)
    cost = meter.read().per(result.requests)
    return Round(result.rps, cost.api_us, cost.postgres_us, cost.machine_us)


def report(key: str, rounds: dict[str, list[Round]]) -> list[str]:
    def median(name: str, field: str) -> float:
        return float(statistics.median(getattr(r, field) for r in rounds[name]))

    lines = []
    for name in ("A", "B"):
        lines.append(
            f"| {key} | {name} | {median(name, 'rps'):,.0f} | {median(name, 'api_us'):,.0f} | "
            f"{median(name, 'postgres_us'):,.0f} | {median(name, 'machine_us'):,.0f} |"
        )
    rps = median("A", "rps") / median("B", "rps")
    # Each round runs A and B one right after the other: the spread of their ratios is how much
    # this machine moved under the comparison (a shared virtual machine can drift by 20%).
    paired = [a.rps / b.rps for a, b in zip(rounds["A"], rounds["B"], strict=True)]
    spread = f" (rounds {min(paired):.2f}x-{max(paired):.2f}x)"
    cpu = median("B", "machine_us") / median("A", "machine_us")
    lines.append(f"| {key} | A/B | {rps:.2f}x{spread} | | | {cpu:.2f}x (B's CPU / A's) |")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.free_ports:
        PORTS.update({name: free_port() for name in PORTS})
    ensure_wrk()
    url = prepare_database(args.database, args.pg, args.students, args.seed)
    context = scenarios.Context.create(url, args)
    envs = {"A": variables(args.a_env), "B": variables(args.b_env)}
    lines = [
        f"bench-peer A/B: A {envs['A'] or '(defaults)'}, B {envs['B'] or '(defaults)'}; "
        f"wrk {args.connections} connections, {args.rounds} alternating rounds of "
        f"{args.seconds:g} s; medians. {machine(args.pg)}",
        "",
        "| scenario | system | req/s | API µs/req | PostgreSQL µs/req | machine µs/req |",
        "|---|---|---|---|---|---|",
    ]
    wanted = set(args.only.split(",")) if args.only else None
    with servers(url, envs) as pids, tempfile.TemporaryDirectory() as tmp:
        a = Running(pids["A"], Path(os.devnull), f"http://127.0.0.1:{PORTS['A']}")
        scenarios.find_cursors(context, {"project": a})  # A's and B's cursors are alike
        for scenario in scenarios.LOADED:
            if wanted is not None and scenario.key not in wanted:
                continue
            request = scenario.requests(context, ("project",))["project"]
            script = lua_script(request, context.keys_file, Path(tmp) / f"{scenario.key}.lua")
            rounds: dict[str, list[Round]] = {"A": [], "B": []}
            for name in PORTS:  # warm
                wrk(f"http://127.0.0.1:{PORTS[name]}", script, seconds=1)
            for i in range(args.rounds):
                # A first in even rounds, B first in odd ones: a drift of the machine over a
                # scenario then does not favour one side in every round.
                for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
                    base = f"http://127.0.0.1:{PORTS[name]}"
                    rounds[name].append(measured(base, script, pids[name], args))
            lines.extend(report(scenario.key, rounds))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
