"""The command line. Each command module registers its subcommands; every command reads the
settings from the environment, so what `token` mints, `serve` accepts.

Every failure is translated here, once: one line per problem on stderr and exit status 1 (bad
settings: a line per variable; the database: one line saying whether it could be reached), 2 for
a wrong argument; never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.cli import accounts, audit, data, persisted, server, webhooks, worker
from app.config import Settings
from app.db import is_database_unavailable
from app.errors import DomainError

COMMAND_MODULES = [server, worker, data, accounts, audit, persisted, webhooks]


class OneLineErrorParser(argparse.ArgumentParser):
    """A wrong argument is one line on stderr and exit status 2 (usage is on `--help`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="studentgraph", description="studentgraph: GraphQL and REST over student records."
    )
    parser.add_argument("--version", action="version", version=f"studentgraph {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def _version() -> str:
    try:
        return version("studentgraph")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _first_line(exc: BaseException) -> str:
    return next(iter(str(exc).strip().splitlines()), "")


def _database_hint(reason: str) -> str:
    low = reason.lower()
    if low.startswith("database") and "does not exist" in low:
        return " (create it, or correct DATABASE_URL)"
    if "table" in low or low.startswith("relation"):
        return " (has `studentgraph migrate` been run?)"
    return ""


def problems(exc: Exception) -> list[str]:
    """What a failed command says: one line per problem."""
    if isinstance(exc, ValidationError):
        if exc.title == Settings.__name__:  # each line names its variable (app/config.py)
            return [str(error["msg"]) for error in exc.errors()]
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    if is_database_unavailable(exc) and not (isinstance(exc, OSError) and exc.filename):
        return [f"cannot reach the database (DATABASE_URL): {_first_line(exc)}"]
    if isinstance(exc, SQLAlchemyError):
        reason = _first_line(getattr(exc, "orig", None) or exc)
        return [f"database error: {reason}{_database_hint(reason)}"]
    if isinstance(exc, DomainError | RuntimeError | ValueError | OSError):
        return [_first_line(exc) or type(exc).__name__]
    return [f"unexpected {type(exc).__name__}: {_first_line(exc)}"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:
        print("studentgraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one translation (see the module docstring)
        for line in problems(exc):
            print(f"studentgraph: error: {line}", file=sys.stderr)
        return 1
    return result
