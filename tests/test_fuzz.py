"""A short schemathesis run inside `make test` (`make fuzz` runs thousands of cases)."""

from __future__ import annotations

import subprocess
import sys


def test_a_short_fuzz_finds_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz", "--examples", "10"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert done.stdout.count("exit 0") == 2
