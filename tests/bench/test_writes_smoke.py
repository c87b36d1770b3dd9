"""`python -m bench.writes`'s floor and pause parts end to end at a tiny size: PATCH and
`setDplans` accepted and reported as ratios to the bare route doing the same durable work, and a
backlog built while running workers are frozen drained after the thaw, against fresh workers on
the same backlog. Nothing here asserts a timing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bench.writes.__main__ import main
from tests.bench.http_benches import NEEDS_POSTGRESQL, BenchDatabase, bench_database

pytestmark = [NEEDS_POSTGRESQL, pytest.mark.slow]


@pytest.fixture
def database() -> Iterator[BenchDatabase]:
    yield from bench_database("sg_writes_smoke")


def test_acceptance_against_its_floor_and_a_paused_backlog_against_a_fresh_one(
    database: BenchDatabase, capsys: pytest.CaptureFixture[str]
):
    argv = [
        *database.argv(),
        *("--students", "30", "--backlog", "12", "--seconds", "1", "--rounds", "1"),
        *("--parts", "acceptance,pause"),
    ]

    assert main(argv) == 0

    printed = capsys.readouterr().out
    for door in ("PATCH", "setDplans"):
        line = next(x for x in printed.splitlines() if x.strip().startswith(door + " "))
        assert "non-2xx 0" in line and re.search(r"[\d.]+x the floor", line), line
    floor = next(x for x in printed.splitlines() if x.strip().startswith("floor "))
    assert "non-2xx 0" in floor
    assert re.search(r"fresh +[\d.]+ s from the workers' start; 12 complete, 0 left", printed)
    assert re.search(r"paused +[\d.]+ s from the thaw; 12 complete, 0 left", printed)
    assert re.search(r"paused / fresh: [\d.]+x the wall time", printed)
    assert "Statements per task" not in printed  # --parts


def test_unknown_parts_are_refused_by_name(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["--parts", "acceptance,soak"])

    assert "unknown parts ['soak']" in capsys.readouterr().err
