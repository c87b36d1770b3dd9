"""bench-peer's table: medians, the range of the rounds, ratios paired round by round, and CPU
per request (the servers and wrk run only in the bench itself and its smoke test)."""

from __future__ import annotations

from bench.peer.cpu import Cost
from bench.peer.load import Result
from bench.peer.report import Measured, loaded_rows, walk_rows


def _run(rps: float, api: float = 100, errors: int = 0) -> Measured:
    return Measured(Result(rps, 1.0, 5.0, errors, int(rps)), Cost(api, 50, 400))


def test_a_row_per_system_with_medians_spreads_cpu_and_ratios_paired_by_round():
    runs = {
        "project": [_run(600), _run(700, api=300), _run(650)],
        "postgraphile5": [_run(900), _run(1000), _run(1300)],
    }

    ours, peer = loaded_rows("light", runs, {"project": 1, "postgraphile5": 1})

    assert ours == "| light | project | 650 (600-700) | 1.00 | 5.00 | 1 | 100 | 50 | 400 |  |"
    # 650 / 1000 overall; the rounds: 600/900, 700/1000, 650/1300.
    assert peer.endswith("| 0.65x (0.50-0.70) |")
    assert peer.startswith("| light | postgraphile5 | 1,000 (900-1,300) |")


def test_failed_requests_are_flagged_and_a_system_without_the_project_has_no_ratio():
    (row,) = loaded_rows("rest", {"floor": [_run(800, errors=3)]}, {})

    assert "800 (3 non-2xx!)" in row and "| - |" in row


def test_the_walk_gives_seconds_cpu_per_walk_in_ms_and_the_time_ratio():
    walks = {
        "project": [(2.0, Cost(90_000, 40_000, 300_000))],
        "postgraphile5": [(1.0, None)],
    }

    lines = walk_rows(walks, 5000)

    assert "| project | 2.000 | 90 | 40 | 300 |  |" in lines
    assert "| postgraphile5 | 1.000 | - | - | - | 2.00x |" in lines
