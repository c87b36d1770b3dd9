"""The pinned Node packages of a test's npm project (its package-lock.json), installed by
`npm ci` on first use into the project's gitignored node_modules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def installed(project: Path, npm: str, package: str) -> None:
    """`npm ci` in `project` unless `package` (one it depends on) is there already; a failed
    install fails the test, saying why."""
    if (project / "node_modules" / package / "package.json").exists():
        return
    install = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run(
        install, cwd=project, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {project} failed:\n{done.stderr[-3000:]}")
