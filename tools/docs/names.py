"""What the documentation names that the code must have: settings (as the environment spells
them), routes, Prometheus metrics and `studentgraph` commands. Each `*_named` function finds the
names in a page's Markdown; each `unknown_*` returns those the code does not have (tests/docs/
runs them over every page, and over made-up names to prove each one fails)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Collection, Iterable

SETTING = re.compile(r"(?<![A-Za-z0-9_])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(_?\*)?")
# A URL of the API itself loses its origin (its path is checked); any other URL is dropped.
OUR_URL = re.compile(
    r"\b(?:https?|wss?)://(?:127\.0\.0\.1|localhost|HOST|\$\{?API\}?|api[\w.-]*)(?::\d+)?|\$\{?API\}?"
)
OTHER_URL = re.compile(r"\b(?:https?|wss?)://[^\s`'\")>]+")
ROUTE = re.compile(
    r"(?<![\w.~-])/(?:api|graphql|healthz|readyz|metrics|docs|redoc|openapi\.json|\.well-known)"
    r"(?:[\w/{}.:-]*[\w}])?"
)
METRIC = re.compile(r"\bstudentgraph_[a-z0-9_]*[a-z0-9]")
CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
# A command where a shell would run it: at the start of a line, or after `$ `, a pipe, `&&`,
# `;`, `exec SERVICE`, environment assignments or a path (`.venv/bin/`, `./`); not a database
# name after `-U` or at the end of a URL.
COMMAND = re.compile(
    r"(?:^|^\$ |[|;&(] *|\bexec (?:-T )?[\w-]+ |bin/|\./)(?:[A-Z_]+=\S+ )*"
    r"(?:studentgraph|python -m app) "
    r"([a-z][a-z-]*)( [a-z][a-z-]*)?",
    re.MULTILINE,
)


def settings_named(text: str, prefixes: Collection[str]) -> set[str]:
    """UPPER_CASE names whose first word starts a setting's (`DATABASE_...`, `JWT_...`), as
    written (`WORKER_TEST_*` keeps its star)."""
    return {
        name + star for name, star in SETTING.findall(text) if name.split("_", 1)[0] in prefixes
    }


def unknown_settings(
    named: Iterable[str], settings: Collection[str], others: Collection[str]
) -> set[str]:
    """Named settings that are neither a setting nor another name the code has (an error code);
    `PREFIX_*` needs some setting starting with PREFIX_."""
    unknown = set()
    for name in named:
        if name.endswith("*"):
            if not any(s.startswith(name[:-1]) for s in settings):
                unknown.add(name)
        elif name not in settings and name not in others:
            unknown.add(name)
    return unknown


def routes_named(text: str) -> set[str]:
    """Paths under the API's own prefixes, without scheme, host or query."""
    text = OTHER_URL.sub(" ", OUR_URL.sub(" ", text))
    return {match.group(0) for match in ROUTE.finditer(text)}


def unknown_routes(named: Iterable[str], routed: Callable[[str], bool]) -> set[str]:
    return {path for path in named if not routed(path)}


def metrics_named(text: str) -> set[str]:
    return set(METRIC.findall(text))


SAMPLE_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def unknown_metrics(named: Iterable[str], families: Collection[str]) -> set[str]:
    """Names that are no family, nor a sample of one (`_total`, `_bucket`, ...)."""
    unknown = set()
    for name in named:
        family = next((name.removesuffix(s) for s in SAMPLE_SUFFIXES if name.endswith(s)), name)
        if name not in families and family not in families:
            unknown.add(name)
    return unknown


def commands_named(text: str) -> set[tuple[str, ...]]:
    """`studentgraph COMMAND [SUBCOMMAND]` (or `python -m app ...`) in code spans and blocks."""
    found: set[tuple[str, ...]] = set()
    for span in CODE_SPAN.findall(text):
        for line in span.strip("`").splitlines():
            for command, second in COMMAND.findall(line.strip()):
                found.add((command, second.strip()) if second else (command,))
    return found


def unknown_commands(
    named: Iterable[tuple[str, ...]], parser: argparse.ArgumentParser
) -> set[tuple[str, ...]]:
    """Commands the parser does not have; a second word must be a subcommand of a command that
    has them (what follows a command without subcommands is its arguments)."""
    commands = _choices(parser)
    unknown = set()
    for words in named:
        sub = commands.get(words[0])
        if sub is None or (len(words) > 1 and _choices(sub) and words[1] not in _choices(sub)):
            unknown.add(words)
    return unknown


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
