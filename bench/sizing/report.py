"""The sizing bench's figures: medians per configuration, the table it prints, and the JSON the
Sizing page quotes (docs/operations/sizing.md)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.sizing.measure import Run

GROUPS = ("api", "workers", "postgres", "pgbouncer", "machine")


def summary(runs: Sequence[Run], worker_group: str) -> dict[str, Any]:
    """Medians over a configuration's rounds: the rate, CPU per unit of work (µs) and cores in
    use for each group of processes; connections, the most seen in any round."""

    def median(values: list[float]) -> float:
        return float(statistics.median(values)) if values else 0.0

    out: dict[str, Any] = {
        "rate": median([r.rate for r in runs]),
        "rounds": [round(r.rate, 1) for r in runs],
        "p50_ms": median([r.p50_ms for r in runs]),
        "p99_ms": median([r.p99_ms for r in runs]),
        "errors": sum(r.errors for r in runs),
        "us_per_unit": {},
        "cores": {},
        "backends": {},
        "held_per_process": {},
    }
    for group in (worker_group, "postgres", "pgbouncer", "machine"):
        per = [r.cpu.get(group, 0.0) * 1e6 / r.done for r in runs if r.done]
        out["us_per_unit"][group] = median(per)
        out["cores"][group] = median([r.cpu.get(group, 0.0) / r.seconds for r in runs])
    out["wal_bytes_per_unit"] = median([r.wal_bytes / r.done for r in runs if r.done])
    for run in runs:
        for key, value in run.backends.items():
            out["backends"][key] = max(out["backends"].get(key, 0), value)
        for key, value in run.held.items():
            out["held_per_process"][key] = max(out["held_per_process"].get(key, 0), value)
    return out


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _cores(row: dict[str, Any], group: str) -> str:
    return f"{row['cores'].get(group, 0.0):.2f}"


def _held(row: dict[str, Any], group: str) -> str:
    held = row["held_per_process"]
    return f"{held.get(f'{group}:postgres', 0)} / {held.get(f'{group}:pgbouncer', 0)}"


def _backends(row: dict[str, Any], group: str) -> str:
    b = row["backends"]
    return f"{b.get(group, 0)} / {b.get('pgbouncer', 0)} / {sum(b.values())}"


def reads_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| target | API processes | reads/s | per process | x 1 process | p50 ms | p99 ms "
        "| cores: API / PostgreSQL / PgBouncer / machine | µs per read: API / PostgreSQL "
        "| connections per process: PostgreSQL / PgBouncer | backends: API / PgBouncer / all |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ones = {r["target"]: r["rate"] for r in rows if r["processes"] == 1}
    for r in rows:
        one = ones.get(r["target"])
        slope = f"{r['rate'] / one:.2f}x" if one else "-"
        flag = f" ({r['errors']} non-2xx!)" if r["errors"] else ""
        us = r["us_per_unit"]
        lines.append(
            f"| {r['target']} | {r['processes']} | {_n(r['rate'])}{flag} "
            f"| {_n(r['rate'] / r['processes'])} | {slope} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {_cores(r, 'api')} / {_cores(r, 'postgres')} / "
            f"{_cores(r, 'pgbouncer')} / {_cores(r, 'machine')} | {_n(us['api'])} / "
            f"{_n(us['postgres'])} | {_held(r, 'api')} | {_backends(r, 'api')} |"
        )
    return lines


def tasks_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| target | workers | tasks/s | per worker | cores: workers / PostgreSQL / PgBouncer "
        "| µs per task: workers / PostgreSQL | connections per worker: PostgreSQL / PgBouncer "
        "| backends: workers / PgBouncer / all |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        flag = f" ({r['errors']} not applied!)" if r["errors"] else ""
        us = r["us_per_unit"]
        lines.append(
            f"| {r['target']} | {r['workers']} | {_n(r['rate'])}{flag} "
            f"| {_n(r['rate'] / r['workers'])} | {_cores(r, 'workers')} / "
            f"{_cores(r, 'postgres')} / {_cores(r, 'pgbouncer')} | {_n(us['workers'])} / "
            f"{_n(us['postgres'])} | {_held(r, 'workers')} | {_backends(r, 'workers')} |"
        )
    return lines


def model(reads: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the Sizing page's model takes, derived from the rows."""

    def find(rows: list[dict[str, Any]], **key: Any) -> dict[str, Any] | None:
        return next((r for r in rows if all(r[k] == v for k, v in key.items())), None)

    out: dict[str, Any] = {"reads": {}, "tasks": {}}
    for target in sorted({r["target"] for r in reads}):
        one = find(reads, target=target, processes=1)
        if one is None:
            continue
        us = one["us_per_unit"]
        out["reads"][target] = {
            "per_api_process": one["rate"],
            "per_api_core": 1e6 / us["api"] if us["api"] else None,
            "per_postgres_core": 1e6 / us["postgres"] if us["postgres"] else None,
            # every process of the machine, wrk's included
            "per_machine_core": 1e6 / us["machine"] if us["machine"] else None,
            "slope": {
                str(r["processes"]): r["rate"] / one["rate"]
                for r in reads
                if r["target"] == target and one["rate"]
            },
            "connections_per_api_process": _most(reads, target, "api"),
            "pgbouncer_server_connections": max(
                (r["backends"].get("pgbouncer", 0) for r in reads if r["target"] == target),
                default=0,
            ),
        }
    for target in sorted({r["target"] for r in tasks}):
        one = find(tasks, target=target, workers=1)
        if one is None:
            continue
        us = one["us_per_unit"]
        out["tasks"][target] = {
            "per_worker": one["rate"],
            "per_worker_core": 1e6 / us["workers"] if us["workers"] else None,
            "per_postgres_core": 1e6 / us["postgres"] if us["postgres"] else None,
            "two_workers": (find(tasks, target=target, workers=2) or {}).get("rate"),
            "connections_per_worker": _most(tasks, target, "workers"),
        }
    return out


def _most(rows: list[dict[str, Any]], target: str, group: str) -> dict[str, int]:
    """The connections one process of `group` held, to PostgreSQL and to PgBouncer (the most
    over the target's rows)."""
    return {
        to: max(
            (r["held_per_process"].get(f"{group}:{to}", 0) for r in rows if r["target"] == target),
            default=0,
        )
        for to in ("postgres", "pgbouncer")
    }


def per_read(
    before: dict[str, float], after: dict[str, float], runs: dict[Any, list[Run]]
) -> dict[str, float]:
    """The primary's commits, WAL flushes and WAL records per read, over every read run (the
    warm-up excluded)."""
    reads = sum(run.done for rounds in runs.values() for run in rounds) or 1.0
    return {
        "reads": reads,
        "commits_per_read": (after["commits"] - before["commits"]) / reads,
        "wal_flushes_per_read": (after["flushes"] - before["flushes"]) / reads,
        "wal_records_per_read": (after["records"] - before["records"]) / reads,
    }
