"""bench-peer's tables: medians of the alternating rounds, their spread, and what a request
cost in CPU on each side of the wire."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from typing import Any

from bench.peer.cpu import Cost
from bench.peer.load import Result


@dataclass(frozen=True)
class Measured:
    """One wrk run of one system: its load figures and its CPU per request."""

    result: Result
    cost: Cost


def _spread(values: list[float], fmt: str) -> str:
    if len(values) < 2:
        return ""
    return f" ({min(values):{fmt}}-{max(values):{fmt}})"


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def loaded_rows(
    title: str,
    runs: dict[str, list[Measured]],
    sql: dict[str, float],
) -> list[str]:
    """One row per system. project/system is the project's median req/s over the system's,
    with the range of each round's own ratio (the two ran one right after the other)."""
    lines = []
    ours = runs.get("project")
    for system, measured in runs.items():
        rps = [m.result.rps for m in measured]
        ratio = "-"
        if ours is not None and system != "project":
            rounds = [a.result.rps / b.result.rps for a, b in zip(ours, measured, strict=False)]
            ratio = f"{_median([m.result.rps for m in ours]) / _median(rps):.2f}x"
            ratio += _spread(rounds, ".2f")
        errors = sum(m.result.errors for m in measured)
        flag = f" ({errors} non-2xx!)" if errors else ""
        count = sql.get(system)
        cells = [
            title,
            system,
            f"{_median(rps):,.0f}{_spread(rps, ',.0f')}{flag}",
            f"{_median([m.result.p50_ms for m in measured]):.2f}",
            f"{_median([m.result.p99_ms for m in measured]):.2f}",
            "-" if count is None else f"{count:g}",
            f"{_median([m.cost.api_us for m in measured]):,.0f}",
            f"{_median([m.cost.postgres_us for m in measured]):,.0f}",
            f"{_median([m.cost.machine_us for m in measured]):,.0f}",
            "" if system == "project" else ratio,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def walk_rows(
    walks: dict[str, list[tuple[float, Cost | None]]], fetched: int, page_size: int = 100
) -> list[str]:
    """The 5,000-student walk: seconds per walk, CPU per walk, the project's time over each
    system's (below 1: the project takes less)."""
    lines = [
        "",
        f"{fetched:,} students with their terms, as a client fetches them "
        f"(the project's pages of {page_size}, PostGraphile's one list, the floor's one answer; "
        "sequential requests on one keep-alive connection):",
        "",
        "| system | s per walk (rounds) | API ms/walk | PostgreSQL ms/walk | machine ms/walk "
        "| project's time / system's |",
        "|---|---|---|---|---|---|",
    ]
    ours = walks.get("project")
    for system, runs in walks.items():
        times = [t for t, _ in runs]
        costs = [c for _, c in runs if c is not None]

        def ms(field: str, costs: list[Cost] = costs) -> str:
            return f"{_median([getattr(c, field) for c in costs]) / 1000:,.0f}" if costs else "-"

        ratio = ""
        if ours is not None and system != "project":
            rounds = [a / b for (a, _), (b, _) in zip(ours, runs, strict=False)]
            ratio = f"{_median([t for t, _ in ours]) / _median(times):.2f}x"
            ratio += _spread(rounds, ".2f")
        lines.append(
            f"| {system} | {_median(times):.3f}{_spread(times, '.3f')} | {ms('api_us')} | "
            f"{ms('postgres_us')} | {ms('machine_us')} | {ratio} |"
        )
    return lines


HEADER = [
    "| scenario | system | req/s (rounds) | p50 ms | p99 ms | SQL/req | API µs/req "
    "| PostgreSQL µs/req | machine µs/req | project/system (rounds) |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def report(
    titles: dict[str, str],
    table: dict[str, dict[str, list[Measured]]],
    walks: dict[str, list[tuple[float, Cost | None]]],
    checked: dict[str, dict[str, Any]],
    machine: str,
    args: argparse.Namespace,
    fetched: int,
    page_size: int = 100,
) -> str:
    lines = [
        f"bench-peer: {args.students} students (seed {args.seed}), "
        f"wrk {args.connections} connections, "
        f"{args.rounds} alternating rounds of {args.seconds:g} s; medians (and the range of "
        f"the rounds). {machine}",
        "",
        *HEADER,
    ]
    for key, runs in table.items():
        lines += loaded_rows(titles[key], runs, checked[key]["sql"])
    if walks:
        lines += walk_rows(walks, fetched, page_size)
    lines.append("")
    lines.append(f"Counts checked equal across systems: {checked}")
    return "\n".join(lines)
