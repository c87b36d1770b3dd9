"""The pinned Node packages of a test's npm project (its package-lock.json), installed by
`npm ci` on first use into the project's gitignored node_modules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.locks import exclusive


def installed(project: Path, npm: str, package: str) -> None:
    """`npm ci` in `project` unless `package` (one it depends on) is there already; a failed
    install fails the test, saying why."""
    marker = project / "node_modules" / package / "package.json"
    if marker.exists():
        return
    # One install at a time per project: another xdist worker may be installing it now (`npm ci`
    # first removes node_modules, under the other's feet); once it is done, it is there.
    with exclusive(f"npm ci {project.resolve()}"):
        if marker.exists():
            return
        install = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        done = subprocess.run(
            install, cwd=project, capture_output=True, text=True, timeout=300, check=False
        )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {project} failed:\n{done.stderr[-3000:]}")
