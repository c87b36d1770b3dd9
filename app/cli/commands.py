"""How each command module registers a command: its name, its handler and a one-line `help` for
the list; the handler's docstring is the description `COMMAND --help` shows (one text, kept
where the code it describes is)."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def command(commands: Any, name: str, handler: Handler, summary: str) -> argparse.ArgumentParser:
    """A subcommand: `summary` in the parent's list, the docstring of `handler` as its
    description, `handler` what runs it."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=inspect.getdoc(handler)
    )
    parser.set_defaults(handler=handler)
    return parser


def group(commands: Any, name: str, summary: str, description: str) -> Any:
    """A command of actions (`account create`, ...): the subparsers its actions join."""
    parser = commands.add_parser(name, help=summary, description=description)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")
