"""docs/reference/cli.md: every `studentgraph` command (and subcommand) with its usage, help and
options, read from the argparse parsers of app/cli (the ones `studentgraph --help` prints)."""

from __future__ import annotations

import argparse
import os

INTRO = """# Command line

`studentgraph COMMAND` (installed in `.venv/bin` by `make`; `python -m app COMMAND` is the same).
Every command reads the [settings](settings.md) from the environment; `--help` on each prints
what this page shows. A wrong argument is one line on stderr and exit status 2; a failed command
one line per problem and exit status 1.
"""


def cli_page() -> str:
    os.environ["COLUMNS"] = "100"  # usage lines wrap the same way wherever this runs
    from app.cli import build_parser

    parser = build_parser()
    sections: list[str] = [INTRO]
    for name, summary, command in _subcommands(parser):
        sections.append(_section(f"studentgraph {name}", summary, command))
    return "\n".join(sections)


Command = tuple[str, str, argparse.ArgumentParser]


def _subcommands(parser: argparse.ArgumentParser) -> list[Command]:
    """Each command's name (with its parents'), its one-line help and its parser."""
    found: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, summaries.get(name, ""), sub))
                found.extend((f"{name} {n}", h, s) for n, h, s in _subcommands(sub))
    return found


def _section(title: str, summary: str, parser: argparse.ArgumentParser) -> str:
    usage = parser.format_usage().removeprefix("usage: ").strip()
    lines = [f"## {title}", ""]
    for text in dict.fromkeys(t for t in (summary, parser.description) if t):
        lines += [_sentence(text), ""]
    lines += ["```", usage, "```", ""]
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        metavar = action.metavar if isinstance(action.metavar, str) else None
        name = ", ".join(action.option_strings) or (metavar or action.dest)
        if action.option_strings and action.nargs != 0:
            name += f" {metavar or action.dest.upper()}"
        default = "" if action.default in (None, False, argparse.SUPPRESS) else action.default
        help_text = (action.help or "") % {"default": action.default, "prog": parser.prog}
        shown = f"`{default}`" if default != "" else ""
        cell = help_text.replace("|", "\\|")
        rows.append(f"| `{name}` | {shown} | {cell} |")
    if rows:
        lines += ["| argument | default | what it does |", "|---|---|---|", *rows, ""]
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", ")", ":")) else ".")
