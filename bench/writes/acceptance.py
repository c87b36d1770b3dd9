"""Acceptance against its floor: PATCH /api/students/{netid} and `setDplans` on the API, and the
same PATCH on bench/writes/floor_app.py (the task's INSERT, its NOTIFYs and the COMMIT alone,
same uvicorn), workers stopped, in alternating rounds (each round in another order, the table
truncated before every run so that each starts from the same queue)."""

from __future__ import annotations

import statistics

from bench.peer.load import Request, Result
from bench.serving import VENV_BIN, start, stop, wait_for
from bench.writes.harness import Bench

FLOOR_NAME = "floor"


def acceptance(bench: Bench, rounds: int) -> dict[str, list[Result]]:
    """wrk runs per door: `PATCH`, `setDplans` and `floor`."""
    floor = start(
        [
            str(VENV_BIN / "uvicorn"),
            "bench.writes.floor_app:app",
            *("--port", str(bench.floor_port), "--log-level", "warning", "--no-access-log"),
        ],
        {"FLOOR_DATABASE_URL": bench.url.replace("+asyncpg", "")},
        bench.logs / "floor.log",
    )
    doors: dict[str, tuple[Request, str]] = {
        "PATCH": (bench.patch(), bench.base),
        "setDplans": (bench.set_dplans(), bench.base),
        FLOOR_NAME: (bench.patch(), bench.floor),
    }
    results: dict[str, list[Result]] = {name: [] for name in doors}
    try:
        wait_for(bench.floor, floor, bench.logs / "floor.log")
        for name, (request, base) in doors.items():
            bench.reset()
            bench.wrk(request, f"warm-{name}", base)
        names = list(doors)
        for i in range(rounds):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                request, base = doors[name]
                bench.reset()
                results[name].append(bench.wrk(request, name, base))
    finally:
        stop([floor])
        bench.reset()
    return results


def lines(results: dict[str, list[Result]]) -> list[str]:
    """Medians, the range of the rounds, and each door over the floor (with the range of each
    round's own ratio)."""
    floor = results[FLOOR_NAME]
    out = []
    for name, runs in results.items():
        rps = [r.rps for r in runs]
        median = statistics.median(rps)
        spread = f" ({min(rps):.0f}-{max(rps):.0f})" if len(rps) > 1 else ""
        ratio = ""
        if name != FLOOR_NAME:
            paired = [a.rps / b.rps for a, b in zip(runs, floor, strict=False)]
            ratio = f"  {median / statistics.median(r.rps for r in floor):.2f}x the floor"
            if len(paired) > 1:
                ratio += f" (rounds {min(paired):.2f}x-{max(paired):.2f}x)"
        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        errors = sum(r.errors for r in runs)
        out.append(
            f"  {name:<10} {median:7.0f}{spread} accepted/s  p50 {p50:.1f} ms  p99 {p99:.1f} ms  "
            f"non-2xx {errors}{ratio}"
        )
    return out
