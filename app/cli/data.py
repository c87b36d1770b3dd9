"""load, demo, generate: putting data in the database.

A bad file is reported one problem per line (`FILE: plans[2].parent_id: plan 99 does not exist`)
and exits 1 having written nothing; a database failure is one line, never a stack trace
(`app.cli.problems` says it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli.commands import command
from app.clock import Clock
from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.domain.demo import demo_document
from app.domain.load_format import LoadDocument, parse_document
from app.errors import Invalid
from app.services import generator, importer

T = TypeVar("T")
MAX_PROBLEMS_SHOWN = 200


def _settings() -> Settings:
    return Settings()


async def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    engine = create_engine(settings)
    try:
        return await work(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _one_transaction(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    async with transaction(sessions) as session:
        return await work(session)


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction (a database failure is reported by `app.cli.main`)."""
    return asyncio.run(_with_sessions(settings, lambda s: _one_transaction(s, work)))


def _run_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Run `work` with the database's sessions, for work of several transactions."""
    return asyncio.run(_with_sessions(settings, work))


def _report(source: str, exc: Invalid) -> int:
    print(f"studentgraph: error: {source}: {exc.message}", file=sys.stderr)
    for problem in exc.problems[:MAX_PROBLEMS_SHOWN]:
        where = f"{problem.loc}: " if problem.loc else ""
        print(f"{source}: {where}{problem.message}", file=sys.stderr)
    if len(exc.problems) > MAX_PROBLEMS_SHOWN:
        print(f"{source}: ... and {len(exc.problems) - MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
    return 1


def _summary(counts: dict[str, int]) -> str:
    return (
        ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n) or "nothing"
    )


def _load(source: str, document: LoadDocument) -> int:
    settings = _settings()
    now = Clock(settings.clock_now).now()
    try:
        made_by = "demo" if source == "demo" else "load"
        capture = settings.changes_capture
        counts = _run(
            settings,
            lambda s: importer.load(s, document, now=now, source=made_by, capture=capture),
        )
    except Invalid as exc:
        return _report(source, exc)
    print(f"loaded {source}: {_summary(counts)}")
    return 0


def load(args: argparse.Namespace) -> int:
    """Upsert one JSON object of record lists, in one transaction. A bad file writes nothing and
    exits 1, naming each problem as list[index].field."""
    source = "<stdin>" if args.file == "-" else args.file
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"studentgraph: error: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        document = importer.read_document(data)
    except Invalid as exc:
        return _report(source, exc)
    return _load(source, document)


def demo(args: argparse.Namespace) -> int:
    """Load, like `load`, every seed sample with its own ids and values (f000abc's terms,
    f0027k4's plans and D-plans, f00000x) plus 40 made-up students, four of them FERPA-protected.
    The same set every time; running it again changes nothing."""
    raw = demo_document()
    if args.output:
        Path(args.output).write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"wrote the demo document to {args.output}")
        return 0
    document, problems = parse_document(raw)
    if problems:  # the demo is a load document like any other; a test keeps it valid
        return _report("demo", Invalid("the demo document is not valid", problems))
    return _load("demo", document)


def generate(args: argparse.Namespace) -> int:
    """Upsert N synthetic students (sg000001, ...) with 4-12 terms, 1-3 plans and D-plans on
    about a third of their terms, in one transaction. The same seed gives the same rows; 100,000
    students take a few minutes."""
    settings = _settings()
    started = time.monotonic()

    def progress(done: int) -> None:
        print(f"  {done} students ({time.monotonic() - started:.0f}s)", file=sys.stderr)

    counts = _run(
        settings,
        lambda s: generator.generate(
            s,
            students=args.students,
            seed=args.seed,
            progress=progress,
            capture=settings.changes_capture,
        ),
    )
    print(f"generated {_summary(counts)} in {time.monotonic() - started:.1f}s")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(commands: Any) -> None:
    summary = "upsert a JSON file of students, terms, plans, D-plans"
    p = command(commands, "load", load, summary)
    p.add_argument("file", metavar="FILE.json", help="the file to load ('-' reads stdin)")

    p = command(commands, "demo", demo, "load the demo set built from the seed samples")
    instead = "write the demo document to FILE (a load file) instead of loading it"
    p.add_argument("--output", "-o", metavar="FILE", help=instead)

    p = command(commands, "generate", generate, "upsert synthetic students for benchmarks")
    p.add_argument("--students", type=_positive, required=True, metavar="N", help="how many")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed")
