"""`python -m bench.sizing` end to end at a tiny size, on a throwaway PostgreSQL of the test's
own: 1 and 2 API processes, directly and through its PgBouncer, 1 and 2 workers, one round of
1 s. Every row is there with positive figures; nothing here asserts a timing (timings only mean
something in a full run on a quiet machine)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest

from bench.sizing.__main__ import main
from tests.infra import ROOT_USER, Cluster, ensure_pgbouncer

pytestmark = pytest.mark.slow


def test_every_row_has_positive_figures(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("wrk") is None and not ROOT_USER:
        pytest.skip("needs wrk (installed by the bench when run as root)")
    targets = ["direct", "pgbouncer"] if ensure_pgbouncer() else ["direct"]
    output = tmp_path / "sizing.json"
    argv = [
        *("--pg", f"postgres@127.0.0.1:{cluster.port}", "--database", f"sg_sizing_{os.getpid()}"),
        *("--students", "40", "--backlog", "20", "--processes", "1,2", "--workers", "1,2"),
        *("--seconds", "1", "--rounds", "1", "--connections", "2", "--settle", "0"),
        *("--output", str(output)),
    ]

    assert main(argv) == 0

    figures = orjson.loads(output.read_bytes())
    reads = {(r["target"], r["processes"]): r for r in figures["reads"]}
    assert set(reads) == {(t, n) for t in targets for n in (1, 2)}
    for (target, n), row in reads.items():
        assert row["rate"] > 0 and row["errors"] == 0, row
        assert row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"], row
        assert row["us_per_unit"]["machine"] > 0, row
        assert row["wal_bytes_per_unit"] > 0, row  # each read's disclosure record
        held = row["held_per_process"]
        if target == "direct":  # its pool and its LISTEN connection, to PostgreSQL itself
            assert held["api:postgres"] >= 2 and held.get("api:pgbouncer", 0) == 0, row
            assert row["backends"]["api"] >= 2 * n, row
        else:  # its pool to PgBouncer, LISTEN to PostgreSQL; PgBouncer's server connections
            assert held["api:postgres"] == 1 and held["api:pgbouncer"] >= 1, row
            assert row["backends"]["pgbouncer"] >= 1, row
    tasks = {(r["target"], r["workers"]): r for r in figures["tasks"]}
    assert set(tasks) == {(t, n) for t in targets for n in (1, 2)}
    for row in tasks.values():
        assert row["rate"] > 0 and row["errors"] == 0, row
    assert set(figures["model"]["reads"]) == set(targets)
    assert figures["primary"]["reads"] > 0
    assert figures["command"].startswith("python -m bench.sizing --pg")

    printed = capsys.readouterr().out
    for target in targets:
        for n in (1, 2):
            assert f"| {target} | {n} | " in printed
