"""Every failure of the command line is one line per problem on stderr, never a traceback
(`app.cli.problems`): bad settings, a database that does not exist or cannot be reached, the
unexpected; and `--version`."""

from __future__ import annotations

import os
import uuid
from importlib.metadata import version

import orjson
import pytest
from sqlalchemy.engine import make_url

from app.cli import main
from tests.cli.test_server import run_cli
from tests.domain.test_load_format import document
from tests.served import free_port

ERROR = "studentgraph: error: "


def one_line(result) -> str:
    """The one line a failed command wrote (and nothing else)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


DATABASE_COMMANDS = [
    ["migrate"],
    ["demo"],
    ["load", "FILE"],  # a valid load file
    ["generate", "--students", "1"],
]


def with_file(command: list[str], tmp_path) -> list[str]:
    path = tmp_path / "data.json"
    path.write_bytes(orjson.dumps(document()))
    return [str(path) if part == "FILE" else part for part in command]


class TestVersion:
    def test_version(self):
        result = run_cli("--version")
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"studentgraph {version('studentgraph')}\n"


class TestBadSettings:
    ENV = {
        "ENVIRONMENT": "production",
        "JWT_SECRET": "short",
        "JWT_ALGORITHMS": "HS256 RS256",
        "PAGE_SIZE_MAX": "-1",
        "WORKER_CONCURRENCY": "many",
    }
    LINES = [
        f"{ERROR}JWT_ALGORITHMS=RS256 needs JWT_PUBLIC_KEY or JWT_JWKS_URL",
        f"{ERROR}JWT_SECRET: production needs at least 32 characters of your own (got 5)",
        f"{ERROR}PAGE_SIZE_MAX: must be at least 1 (got -1)",
        f"{ERROR}WORKER_CONCURRENCY: must be a whole number (got many)",
    ]

    @pytest.mark.parametrize(
        "command", [["migrate"], ["serve"], ["worker"], ["token", "--sub", "x"], ["demo"]]
    )
    def test_every_problem_one_line_each(self, command):
        result = run_cli(*command, env=self.ENV)
        assert result.returncode == 1
        assert result.stderr.splitlines() == self.LINES

    def test_a_database_url_of_another_driver(self):
        url = "postgresql://someone:password@db.example.edu/x"
        line = one_line(run_cli("migrate", env={"DATABASE_URL": url}))
        assert line == (
            f"{ERROR}DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
            "(got postgresql://)"
        )


@pytest.fixture(scope="module")
def missing() -> tuple[str, str]:
    """A database URL on the test PostgreSQL server naming a database that does not exist."""
    name = f"sg_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(os.environ["TEST_DATABASE_URL"]).set(
        drivername="postgresql+asyncpg", database=name
    )
    return url.render_as_string(hide_password=False), name


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
class TestMissingPostgresDatabase:
    @pytest.mark.parametrize("command", [*DATABASE_COMMANDS, ["worker"]])
    def test_one_line(self, missing, command, tmp_path):
        url, name = missing
        result = run_cli(*with_file(command, tmp_path), env={"DATABASE_URL": url}, timeout=30)
        assert one_line(result) == (
            f'{ERROR}database error: database "{name}" does not exist '
            "(create it, or correct DATABASE_URL)"
        )


class TestUnreachableDatabase:
    @pytest.mark.parametrize("command", DATABASE_COMMANDS)
    def test_one_line(self, command, tmp_path):
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/studentgraph"
        line = one_line(run_cli(*with_file(command, tmp_path), env={"DATABASE_URL": url}))
        assert line.startswith(f"{ERROR}cannot reach the database (DATABASE_URL): ")
        assert "Connect call failed" in line


class TestDatabaseWithoutTables:
    def test_worker_stops_at_once(self, tmp_path):
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        line = one_line(run_cli("worker", env={"DATABASE_URL": url}, timeout=30))
        assert line == (
            f"{ERROR}database error: no such table: tasks (has `studentgraph migrate` been run?)"
        )


class TestTheUnexpected:
    def test_the_unexpected_is_one_line_too(self, monkeypatch, capsys):
        def boom(*_args: object, **_kwargs: object) -> None:
            raise KeyError("surprise")

        monkeypatch.setattr("app.graphql.schema.build_schema", boom)
        assert main(["export-schema"]) == 1
        assert capsys.readouterr().err == f"{ERROR}unexpected KeyError: 'surprise'\n"
