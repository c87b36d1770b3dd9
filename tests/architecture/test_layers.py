"""The import contract of pyproject.toml ([tool.importlinter]) holds, and fails on a violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(source_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source_root,
        env={"PYTHONPATH": str(source_root), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_keeps_its_layers(tmp_path):
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    done = _lint(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_service_importing_a_door_breaks_it(tmp_path):
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    service = tmp_path / "app" / "services" / "students.py"
    service.write_text(service.read_text() + "\nimport app.rest.pages  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "app.services.students -> app.rest.pages" in done.stdout
