"""The command line. Each command module registers its subcommands; every command reads the
settings from the environment, so what `token` mints, `serve` accepts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from app.cli import data, server, worker
from app.errors import DomainError

COMMAND_MODULES = [server, worker, data]


class OneLineErrorParser(argparse.ArgumentParser):
    """A wrong argument is one line on stderr and exit status 2 (usage is on `--help`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="studentgraph", description="studentgraph: GraphQL and REST over student records."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        print(f"studentgraph: error: {field}: {first.get('msg')}", file=sys.stderr)
        return 1
    except (DomainError, RuntimeError, ValueError, OSError) as exc:
        print(f"studentgraph: error: {exc}", file=sys.stderr)
        return 1
    return result
