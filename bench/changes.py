"""`python -m bench.changes --part accept|feed|push|webhook|all`: the change feed's costs
(issue 23), as ratios and rates measured in one run on this machine.

- accept: a backlog of `--tasks` tasks (accepted over HTTP) drained by one worker with capture
  on and off (CHANGES_CAPTURE): the rate with capture over the rate without (target >= 0.9);
- feed: GET /api/changes?limit=1000 from position 0 over HTTP (in process): entries per second
  and SQL statements per page (target >= 20,000/s, one statement per page and one for the
  disclosure record);
- push: `--writers` writers each committing a change in turn while `recordsChanged`'s stream
  (the subscription's own generator) follows: p50/p95 from commit to the subscriber;
- webhook: every entry delivered to a local receiver by a worker's deliverer: entries/s.

Defaults are small; the issue's figures need PostgreSQL (`--database-url`), `--students 5000`
and `--tasks 10000`. A smoke run: `--students 20 --tasks 20`."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from app import db
from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.main import create_app
from app.repositories.changes import ChangeFeed
from app.services import generator, importer
from app.services import webhooks as webhooks_service
from app.services.accounts import create_account
from app.worker import Worker
from app.worker.webhooks import Deliverer
from bench import data

PARTS = ("accept", "feed", "push", "webhook")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.changes", description=__doc__)
    p.add_argument("--part", choices=(*PARTS, "all"), default="all")
    p.add_argument("--students", type=int, default=200, help="students generated (200)")
    p.add_argument("--tasks", type=int, default=500, help="backlog drained (500)")
    p.add_argument("--writers", type=int, default=8, help="concurrent writers for push (8)")
    p.add_argument("--pushes", type=int, default=50, help="commits each writer makes (50)")
    p.add_argument("--database-url", default=None, help="default: a new SQLite file")
    return p.parse_args(argv)


def settings_for(url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=url,
        environment="test",
        log_level="WARNING",
        rate_limit_per_second=0,
        rate_limit_cost_per_minute=0,
        worker_in_process=False,
        webhooks_allow_private_addresses=True,
        **extra,
    )


async def prepare(settings: Settings, students: int) -> None:
    await data.reset(settings)
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await generator.generate(session, students=students, seed=1)
    finally:
        await engine.dispose()


def client_of(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")


async def accept(settings: Settings, tasks: int) -> dict[str, float]:
    """Drain rate with capture over without."""
    rates: dict[bool, list[float]] = {True: [], False: []}
    for capture in (False, True, False, True):  # alternated: the machine's speed drifts
        tuned = settings.model_copy(update={"changes_capture": capture, "worker_batch_size": 50})
        app = create_app(tuned)
        headers = {"Authorization": f"Bearer {mint(tuned, sub='bench', scopes=list(ALL_SCOPES))}"}
        async with app.router.lifespan_context(app), client_of(app) as client:
            for i in range(tasks):
                code = "R" if (i // 100) % 2 else "L"  # a change each time
                body = {
                    "dplans": [{"term_code": "202301", "dplan_id": code, "dplan_source_id": "PHL"}]
                }
                netid = f"sg{(i % 100) + 1:06d}"
                answer = await client.patch(f"/api/students/{netid}", json=body, headers=headers)
                assert answer.status_code == 202, answer.text
        engine = create_engine(tuned)
        worker = Worker(tuned, engine, create_sessionmaker(engine), concurrency=2)
        started = time.perf_counter()
        while await worker.run_one("bench/0"):
            pass
        rates[capture].append(tasks / (time.perf_counter() - started))
        await engine.dispose()
    on, off = statistics.mean(rates[True]), statistics.mean(rates[False])
    return {"tasks_per_s_capture": on, "tasks_per_s_without": off, "ratio": on / off}


async def feed(settings: Settings) -> dict[str, float]:
    app = create_app(settings)
    scopes = list(ALL_SCOPES)
    headers = {"Authorization": f"Bearer {mint(settings, sub='bench', scopes=scopes)}"}
    counted: list[str] = []
    async with app.router.lifespan_context(app), client_of(app) as client:
        db.statement_hooks.append(counted.append)
        try:
            after, entries, pages = 0, 0, 0
            started = time.perf_counter()
            while True:
                answer = await client.get(f"/api/changes?after={after}&limit=1000", headers=headers)
                page = answer.json()
                if not page:
                    break
                entries, pages = entries + len(page), pages + 1
                after = int(answer.headers["Changes-Next-After"])
            elapsed = time.perf_counter() - started
        finally:
            db.statement_hooks.remove(counted.append)
    return {
        "entries": entries,
        "entries_per_s": entries / elapsed,
        "statements_per_page": len(counted) / max(1, pages + 1),
    }


async def push(settings: Settings, writers: int, pushes: int) -> dict[str, float]:
    from app.auth.principal import Principal
    from app.graphql.change_stream import watch_changes

    app = create_app(settings)
    latencies: list[float] = []
    committed: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        state = app.state.studentgraph
        engine = state.engine
        head = await ChangeFeed(engine).head()
        principal = Principal("bench", frozenset(ALL_SCOPES), {}, tuple(ALL_SCOPES))
        total = writers * pushes

        async def follow() -> None:
            async for entry in watch_changes(state, principal, "bench", str(head), None):
                name = entry.record["last_name"]
                latencies.append(time.perf_counter() - committed[name])
                if len(latencies) == total:
                    return

        async def write(w: int) -> None:
            for i in range(pushes):
                name = f"W{w}-{i}"
                student = {
                    "netid": f"sg{w + 1:06d}",
                    "first_name": "A",
                    "middle_name": None,
                    "last_name": name,
                    "name": f"A {name}",
                    "class_year": 2020,
                    "school_code": "UG",
                    "ferpa_protected": False,
                }
                document = importer.read_document(orjson.dumps({"students": [student]}))
                async with transaction(state.sessions) as session:
                    await importer.load(session, document, now=state.clock.now())
                committed[name] = time.perf_counter()
                await asyncio.sleep(0.01)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.2)
        await asyncio.gather(*(write(w) for w in range(writers)))
        await asyncio.wait_for(follower, 60)
    ordered = sorted(latencies)
    return {
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[int(len(ordered) * 0.95)],
    }


async def webhook(settings: Settings) -> dict[str, float]:
    from tests.changes.receiver import receiving

    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    try:
        async with receiving() as receiver:
            async with transaction(sessions) as session:
                await create_account(session, "bench", list(ALL_SCOPES))
                await webhooks_service.create(
                    session, receiver.url, "bench", None, allow_private=True, after=0
                )
            total = await ChangeFeed(engine).head()
            async with sessions() as session:
                hooks = await webhooks_service.webhooks(session)
                lag = await webhooks_service.lag(engine, session, hooks[0])
            tuned = settings.model_copy(update={"webhook_batch_size": 1000})
            deliverer = Deliverer(tuned, engine, sessions, "bench")
            stop = asyncio.Event()
            started = time.perf_counter()
            running = asyncio.create_task(deliverer.run(stop))
            await receiver.wait_for(lag or 0, seconds=600)
            elapsed = time.perf_counter() - started
            stop.set()
            await running
            delivered = float(lag or 0)
            return {"entries": delivered, "entries_per_s": delivered / elapsed, "head": total}
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    url = args.database_url
    if url is None:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'changes.db'}"
    elif not await data.claim_postgres_database(url):
        raise SystemExit(f"{url}: not the bench's database; refusing to empty it")
    await asyncio.to_thread(data.migrate, url)
    settings = settings_for(url)
    await prepare(settings, args.students)
    parts = PARTS if args.part == "all" else (args.part,)
    results: dict[str, dict[str, float]] = {}
    for part in parts:
        if part == "accept":
            results[part] = await accept(settings, args.tasks)
        elif part == "feed":
            results[part] = await feed(settings)
        elif part == "push":
            results[part] = await push(settings, args.writers, args.pushes)
        else:
            results[part] = await webhook(settings)
        print(part, {k: round(v, 3) for k, v in results[part].items()}, flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
