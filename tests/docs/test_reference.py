"""docs/reference/*.md are the code's own words: the committed pages are what `python -m
tools.docs` writes today (as tests/graphql/test_schema_file.py holds schema.graphql)."""

from __future__ import annotations

import subprocess
import sys

from app.config import Settings
from tools.docs import ROOT, pages, stale


def test_the_committed_reference_pages_are_current():
    assert [str(p.relative_to(ROOT)) for p in stale()] == [], "run `make docs-generate`"


def test_check_names_a_stale_page_and_fails(tmp_path, monkeypatch, capsys):
    """`python -m tools.docs --check` exits 1 naming each page that differs, and writes none."""
    import tools.docs
    from tools.docs.__main__ import main

    for name in tools.docs.PAGES:
        (tmp_path / name).write_text(pages()[tools.docs.REFERENCE / name])
    (tmp_path / "settings.md").write_text("# Settings\n\nedited by hand\n")
    monkeypatch.setattr(tools.docs, "REFERENCE", tmp_path)
    monkeypatch.setattr(sys, "argv", ["tools.docs", "--check"])
    assert main() == 1
    assert capsys.readouterr().err.count("is stale") == 1
    assert (tmp_path / "settings.md").read_text() == "# Settings\n\nedited by hand\n"


def test_check_passes_on_the_committed_pages():
    result = subprocess.run(
        [sys.executable, "-m", "tools.docs", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_the_settings_page_has_every_setting_with_its_description():
    [settings] = [text for path, text in pages().items() if path.name == "settings.md"]
    for name, field in Settings.model_fields.items():
        row = next(
            line for line in settings.splitlines() if line.startswith(f"| `{name.upper()}` |")
        )
        assert field.description is not None
        assert field.description.replace("|", "\\|") in row


def test_the_cli_page_has_every_command():
    from app.cli import build_parser

    [cli] = [text for path, text in pages().items() if path.name == "cli.md"]
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"## studentgraph {name}\n" in cli


def test_the_schema_page_has_every_type_of_schema_graphql():
    from graphql import build_schema

    [page] = [text for path, text in pages().items() if path.name == "schema.md"]
    sdl = build_schema((ROOT / "schema.graphql").read_text())
    for name in sdl.type_map:
        if not name.startswith("__"):
            assert f"### {name}\n" in page, name
