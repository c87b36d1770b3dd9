"""The command line's rough edges, as a newcomer meets them: `./studentgraph` from a fresh shell,
every `--help` with a description and its defaults, a closed pipe that is no outage, a busy port
in one line, and `migrate` naming what it migrated."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser
from tests.cli.test_server import run_cli
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "studentgraph"
INSTALLED = ROOT / ".venv" / "bin" / "studentgraph"


def _every_parser(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases name one parser twice
                found += _every_parser(child)
    return found


PARSERS = _every_parser(build_parser())


class TestHelp:
    def test_every_command_is_walked(self):
        names = {prog for prog, _ in PARSERS}
        assert {"studentgraph serve", "studentgraph apikey list", "studentgraph persisted add"} <= (
            names
        )
        assert len(PARSERS) > 20

    @pytest.mark.parametrize(("prog", "parser"), PARSERS, ids=[p for p, _ in PARSERS])
    def test_a_description_and_every_default(self, prog, parser):
        shown = parser.format_help()  # what `--help` prints
        assert parser.description and len(parser.description) > 30, f"{prog} has no description"
        flat = " ".join(shown.split())
        # Wrapped for the terminal (also at hyphens): compared without any white space.
        assert "".join(parser.description.split()) in "".join(shown.split())
        for action in parser._actions:
            if action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
                continue
            if action.required:  # given every time: its default is never used
                continue
            default = str(action.default) or "none"
            assert f"default: {default}" in flat, f"{prog} {action.option_strings[0]}: {flat}"

    @pytest.mark.parametrize(("prog", "parser"), PARSERS, ids=[p for p, _ in PARSERS])
    def test_no_reference_to_a_readme_heading(self, prog, parser):
        # The README's headings move (the documentation is a site now): a --help stands alone.
        assert "README" not in parser.format_help()

    def test_persisted_help_describes_the_store(self):
        result = run_cli("persisted", "--help")
        assert result.returncode == 0, result.stderr
        assert "GRAPHQL_PERSISTED_ONLY" in result.stdout and "README" not in result.stdout

    def test_serve_help_shows_its_defaults(self):
        result = run_cli("serve", "--help")
        flat = " ".join(result.stdout.split())
        assert "(default: 127.0.0.1)" in flat and "(default: 8000)" in flat, flat


def _sqlite(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    """A migrated SQLite database holding one account with three keys."""
    env = _sqlite(tmp_path)
    assert run_cli("migrate", env=env).returncode == 0
    assert run_cli("account", "create", "reports", env=env).returncode == 0
    for note in ("one", "two", "three"):
        created = run_cli("apikey", "create", "reports", "--note", note, env=env)
        assert created.returncode == 0, created.stderr
    return env


class TestClosedPipe:
    def test_head_gets_the_header_and_nothing_is_reported(self, keys):
        shell = f"{sys.executable} -m app apikey list | head -1; echo status=$?"
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", shell],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, **keys},
            timeout=60,
            check=False,
        )
        lines = result.stdout.splitlines()
        assert lines[0].startswith("id\taccount\t"), result.stdout
        assert lines[1] in ("status=0", "status=141"), result.stdout
        assert result.stderr == ""

    def test_a_reader_gone_before_the_first_line_is_exit_141_and_silence(self, keys):
        command = subprocess.Popen(
            [sys.executable, "-m", "app", "apikey", "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, **keys},
        )
        assert command.stdout is not None and command.stderr is not None
        command.stdout.close()  # the reader is gone before the command writes anything
        stderr = command.stderr.read()
        assert command.wait(timeout=60) == 141
        assert stderr == b""

    def test_a_database_that_cannot_be_reached_is_still_reported(self, tmp_path):
        port = free_port()  # nothing listens there
        url = f"postgresql+asyncpg://nobody@127.0.0.1:{port}/nothing"
        result = run_cli("apikey", "list", env={"DATABASE_URL": url})
        assert result.returncode == 1
        assert result.stderr.startswith("studentgraph: error: cannot reach the database")


class TestBusyPort:
    def test_one_line_naming_the_port_and_exit_1(self, tmp_path):
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            result = run_cli("serve", "--port", str(port), env=_sqlite(tmp_path), timeout=60)
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
        assert result.stdout == ""


class TestMigrate:
    def test_names_the_database_and_the_revision(self, tmp_path):
        env = _sqlite(tmp_path)
        result = run_cli("migrate", env=env)
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(tmp_path / "cli.db") as db:
            (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        assert result.stdout.splitlines()[-1] == (
            f"migrated {env['DATABASE_URL']} to revision {revision} (the newest schema), "
            "with reference data"
        )

    def test_never_prints_the_password(self, database_url):
        if not database_url.startswith("postgresql"):
            pytest.skip("a password needs a server database (TEST_DATABASE_URL)")
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        if url.password is None:
            pytest.skip("the test database is reached without a password")
        result = run_cli("migrate", env={"DATABASE_URL": database_url})
        assert result.returncode == 0, result.stderr
        assert url.password not in result.stdout + result.stderr
        shown = f"{url.drivername}://{url.username}@{url.host}:{url.port}/{url.database}"
        assert f"migrated {shown} to revision " in result.stdout


class TestFreshShell:
    """`./studentgraph` at the checkout's root runs the installed command from any shell."""

    def _fresh(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
        return {"PATH": path, "HOME": os.environ.get("HOME", "/tmp")}

    def test_the_wrapper_runs_the_installed_command(self, tmp_path):
        if not INSTALLED.exists():
            pytest.skip("no .venv/bin/studentgraph in this checkout (make install)")
        result = subprocess.run(
            [str(WRAPPER), "--version"],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # called by its path from elsewhere
            env=self._fresh(),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("studentgraph ")

    def test_before_make_install_it_says_how(self, tmp_path):
        shutil.copy(WRAPPER, tmp_path / "studentgraph")  # a checkout with no .venv yet
        result = subprocess.run(
            [str(tmp_path / "studentgraph"), "--version"],
            capture_output=True,
            text=True,
            env=self._fresh(),
            timeout=60,
            check=False,
        )
        assert result.returncode == 127
        assert "make install" in result.stderr and result.stdout == ""

    def test_make_run_says_how(self):
        """`make run` prints, after the token, how to reach the CLI from another shell (its
        `token` target, which prints without serving)."""
        if shutil.which("make") is None or not (ROOT / ".venv" / ".installed-stamp").exists():
            pytest.skip("needs make and an installed checkout (make install)")
        result = subprocess.run(
            ["make", "--no-print-directory", "token"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "ENVIRONMENT": "development"},
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "./studentgraph --help" in result.stdout
        assert f'export PATH="{ROOT}/.venv/bin:$PATH"' in result.stdout
