"""`python -m bench.changes` runs end to end on tiny sizes and reports each part. Nothing here
asserts a timing: timings only mean something within one full run."""

from __future__ import annotations

import asyncio

from bench.changes import parse_args, run


def test_every_part_reports(tmp_path):
    args = parse_args(["--students", "10", "--tasks", "10", "--writers", "2", "--pushes", "2"])
    results = asyncio.run(run(args))
    assert set(results) == {"accept", "feed", "push", "webhook"}
    assert results["accept"]["ratio"] > 0
    assert results["feed"]["entries"] > 0 and results["feed"]["statements_per_page"] <= 2
    assert results["push"]["p50_ms"] > 0
    assert results["webhook"]["entries"] >= results["feed"]["entries"]  # push wrote more
