"""The command line. Each command module registers its subcommands; every command reads the
settings from the environment, so what `token` mints, `serve` accepts.

Every failure is translated here, once: one line per problem on stderr and exit status 1 (bad
settings: a line per variable; the database: one line saying whether it could be reached), 2 for
a wrong argument; never a traceback. A reader that stops reading (`studentgraph apikey list |
head -1`) is no failure: the command stops quietly with 141, a shell's status for SIGPIPE."""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.cli import accounts, audit, data, persisted, server, webhooks, worker
from app.config import Settings
from app.db import is_database_unavailable
from app.errors import DomainError

COMMAND_MODULES = [server, worker, data, accounts, audit, persisted, webhooks]


# A closed pipe ends a command as SIGPIPE would have ended it (128 + 13), without a word.
CLOSED_PIPE_STATUS = 141


class DefaultsShownFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, unless it has none (None, "", a flag's False,
    a required option's) or its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default in (None, False, "", argparse.SUPPRESS) or action.required:
            return text
        if "default" in text.lower():
            return text
        return f"{text} (default: %(default)s)"


class OneLineErrorParser(argparse.ArgumentParser):
    """A wrong argument is one line on stderr and exit status 2 (usage is on `--help`); every
    parser, subcommands' included (argparse makes them of this class), shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsShownFormatter)
        super().__init__(*args, **kwargs)

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


def _reader_is_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reading end was closed: poll reports POLLERR
    on it. A broken pipe to the database is an outage; one to stdout is a reader that had enough."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _fd, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no stdout, or one without a descriptor
        return False


def _caused_by_broken_pipe(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, BrokenPipeError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _quiet_after_closed_pipe() -> int:
    """Python flushes stdout once more at exit and would report the broken pipe then: point
    stdout at /dev/null first."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return CLOSED_PIPE_STATUS


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
        sys.stdout.flush()  # here, where a closed pipe is still ours to answer
    except KeyboardInterrupt:
        print("studentgraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one translation (see the module docstring)
        if _caused_by_broken_pipe(exc) and _reader_is_gone():
            return _quiet_after_closed_pipe()
        for line in problems(exc):
            print(f"studentgraph: error: {line}", file=sys.stderr)
        return 1
    return result
