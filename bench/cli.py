"""`python -m bench`: build the data, run every scenario against the app and its floor, print a
table and write bench/results/latest.json.

The app is driven in-process through `httpx.ASGITransport` (no sockets: what is measured is the
ASGI app, its GraphQL execution and its SQL, plus httpx's client-side cost), and scenario (a)
once more over real HTTP against `python -m app serve` (uvicorn) in a subprocess on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.config import Settings
from app.main import create_app
from bench import data, scenarios
from bench.floor import Floor
from bench.harness import Measurement, measure, statements_per_call
from bench.scenarios import GraphQL, Scenario, shape

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ("a", "b", "c", "c-rest", "d", "http")
ROUNDS = 4


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--students", type=int, default=5000, help="students to generate (5000)")
    p.add_argument("--seed", type=int, default=1, help="data seed (1)")
    p.add_argument(
        "--duration", type=float, default=4.0, help="seconds per timed loop (4; app and floor)"
    )
    p.add_argument(
        "--warmup", type=int, default=10, help="untimed calls before timing each scenario (10)"
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="default: a new SQLite file in a temp dir; or postgresql+asyncpg://.../NAME: "
        "created and marked as the bench's if missing, and EMPTIED and refilled on every run",
    )
    p.add_argument(
        "--builder",
        choices=("auto", "app", "bench"),
        default="auto",
        help="data from `python -m app generate` (app), bench/data.py (bench), or app when it "
        "exists (auto)",
    )
    p.add_argument(
        "--scenarios", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}"
    )
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="JSON results")
    p.add_argument(
        "--force", action="store_true", help="empty a PostgreSQL database the bench did not create"
    )
    args = p.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenarios) - set(ALL))
    if unknown:
        p.error(f"unknown scenarios {unknown}; choose from {list(ALL)}")
    return args


def bench_settings(url: str, *, worker: bool = False) -> Settings:
    return Settings(
        database_url=url,
        environment="development",
        log_level="WARNING",
        graphiql=False,
        worker_in_process=worker,
        clock_now=None,
        rate_limit_per_second=0,  # one caller at a thousand requests a second, on purpose
        rate_limit_cost_per_minute=0,
    )


def _row(s: Scenario, via: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"key": s.key, "title": s.title, "via": via, "rows": s.rows, "notes": s.notes, **result}


async def run_scenario(
    s: Scenario, engine: AsyncEngine | None, floor_engine: AsyncEngine, args: argparse.Namespace
) -> dict[str, Any]:
    """Check that the app and the floor answer the same rows, count SQL, then time both in
    alternating rounds (so load from elsewhere on the machine hits both alike)."""
    if s.skip or s.app is None or s.floor is None:
        print(f"  {s.key}: skipped: {s.skip}", flush=True)
        return {"skipped": s.skip}
    app_doc = await (s.checked or s.app)()
    floor_doc = orjson.loads(await s.floor())
    app_shape, floor_shape = shape(app_doc), shape(floor_doc)
    if app_shape != floor_shape:
        raise RuntimeError(f"{s.key}: app and floor differ: {app_shape} vs {floor_shape}")
    calls = scenarios.PAGES if s.key == "c" else 3
    sql = await statements_per_call(engine, s.app, calls) if engine is not None else None
    floor_sql = await statements_per_call(floor_engine, s.floor, calls)
    warm = max(1, args.warmup // 3) if s.key == "d" else args.warmup  # a loop costs ~10 requests
    app_parts: list[Measurement] = []
    floor_parts: list[Measurement] = []
    for n in range(ROUNDS):
        app_parts.append(await measure(s.app, args.duration / ROUNDS, warm if n == 0 else 0))
        floor_parts.append(await measure(s.floor, args.duration / ROUNDS, warm if n == 0 else 0))
    app_m, floor_m = Measurement.merged(app_parts), Measurement.merged(floor_parts)
    result = {
        "app": app_m.as_dict(),
        "floor": floor_m.as_dict(),
        "sql_per_request": sql,
        "floor_sql_per_request": floor_sql,
        "ratio_to_floor": round(app_m.rps / floor_m.rps, 3) if floor_m.rps else None,
        "answer": app_shape,
    }
    print(
        f"  {s.key}: {app_m.rps:8.1f} req/s vs floor {floor_m.rps:8.1f}  "
        f"ratio {result['ratio_to_floor']}  SQL/req {'-' if sql is None else f'{sql:.1f}'}",
        flush=True,
    )
    return result


@asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield app, client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def uvicorn_server(settings: Settings) -> AsyncIterator[str]:
    """`python -m app serve` in a subprocess (one uvicorn worker, no in-process task worker)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "RATE_LIMIT_PER_SECOND": "0",
        "RATE_LIMIT_COST_PER_MINUTE": "0",
        "ENVIRONMENT": "development",
        "JWT_SECRET": settings.jwt_secret,
        "WORKER_IN_PROCESS": "false",
        "GRAPHIQL": "false",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as probe:
            for _ in range(300):
                try:
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.returncode is not None:
                    raise RuntimeError("the uvicorn subprocess exited")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the uvicorn subprocess did not become ready")
        yield base
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _rest_plans_exist(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    response = await client.get("/api/academic/plans", params={"pagesize": 1}, headers=headers)
    return response.status_code == 200


@dataclass
class Context:
    args: argparse.Namespace
    url: str
    settings: Settings
    dataset: data.Dataset
    headers: dict[str, str]
    floor_engine: AsyncEngine
    floor: Floor


async def run_reads(ctx: Context) -> list[dict[str, Any]]:
    """Scenarios a, b, c and c-rest on one in-process app (no task worker running)."""
    results = []
    async with in_process(ctx.settings) as (app, client):
        engine = app.state.studentgraph.engine
        gql = GraphQL(client, ctx.headers)
        rest = scenarios.rest_plan_pages(client, ctx.headers, ctx.floor)
        if not await _rest_plans_exist(client, ctx.headers):
            rest.skip = "GET /api/academic/plans does not exist yet"
        for s in [
            scenarios.one_student(gql, ctx.floor, ctx.dataset.sample_netid),
            scenarios.hundred_students(gql, ctx.floor),
            scenarios.student_pages(gql, ctx.floor),
            rest,
        ]:
            if s.key in ctx.args.scenarios:
                result = await run_scenario(s, engine, ctx.floor_engine, ctx.args)
                results.append(_row(s, "in-process", result))
    return results


async def run_task_loop(ctx: Context) -> dict[str, Any]:
    """Scenario d on an app with its in-process task worker on (on PostgreSQL too)."""
    async with in_process(bench_settings(ctx.url, worker=True)) as (app, client):
        gql = GraphQL(client, ctx.headers)
        netid = ctx.dataset.sample_netid
        s = await scenarios.task_loop(gql, ctx.floor, netid, await _a_term_of(gql, netid))
        engine = app.state.studentgraph.engine
        return _row(s, "in-process", await run_scenario(s, engine, ctx.floor_engine, ctx.args))


async def run_over_http(ctx: Context) -> dict[str, Any]:
    """Scenario a again, over a real socket to uvicorn in a subprocess."""
    async with uvicorn_server(ctx.settings) as base, httpx.AsyncClient(base_url=base) as client:
        gql = GraphQL(client, ctx.headers)
        s = scenarios.one_student(gql, ctx.floor, ctx.dataset.sample_netid)
        s.notes.append("SQL/req is counted in-process (scenario a); uvicorn runs apart")
        return _row(s, "HTTP (uvicorn)", await run_scenario(s, None, ctx.floor_engine, ctx.args))


async def run_all(args: argparse.Namespace, url: str) -> dict[str, Any]:
    settings = bench_settings(url)
    started = time.perf_counter()
    dataset = await data.fill(settings, args.students, args.seed, args.builder)
    print(f"data: {dataset.source}: {dataset.counts} ({time.perf_counter() - started:.1f}s)")
    headers = {"Authorization": f"Bearer {mint(settings, sub='f003ghc', scopes=ALL_SCOPES)}"}
    # The floor's engine is plain (no pre-ping, no session): only what one statement needs.
    floor_engine = create_async_engine(url)
    ctx = Context(args, url, settings, dataset, headers, floor_engine, Floor(floor_engine))
    results: list[dict[str, Any]] = []
    try:
        results += await run_reads(ctx)
        if "d" in args.scenarios:
            results.append(await run_task_loop(ctx))
        if "http" in args.scenarios:
            results.append(await run_over_http(ctx))
    finally:
        await floor_engine.dispose()
    return {"dataset": vars(dataset), "scenarios": results}


async def _a_term_of(gql: GraphQL, netid: str) -> str:
    doc = await gql.data(
        "query($n: String!) { student(netid: $n) { terms { quarterlyTerm { id } } } }", {"n": netid}
    )
    term: str = doc["student"]["terms"][-1]["quarterlyTerm"]["id"]
    return term


HEAD = ("scenario", "via", "req/s", "p50 ms", "p95 ms", "SQL/req", "floor req/s", "floor p50")


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    sql = r["sql_per_request"]
    return (
        f"{r['key']} {r['title']}",
        r["via"],
        f"{r['app']['rps']:.1f}",
        f"{r['app']['p50_ms']:.2f}",
        f"{r['app']['p95_ms']:.2f}",
        "-" if sql is None else f"{sql:.1f}",
        f"{r['floor']['rps']:.1f}",
        f"{r['floor']['p50_ms']:.2f}",
        f"{r['ratio_to_floor']:.2f}",
    )


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table; a skipped scenario is one line saying why."""
    rows = [(*HEAD, "x floor")] + [_cells(r) for r in results if "skipped" not in r]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple[str, ...]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs]
        return "| " + " | ".join(cells) + " |"

    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in rows[1:]]
    out += [
        f"| {r['key']} {r['title']} | skipped: {r['skipped']} |" for r in results if "skipped" in r
    ]
    return "\n".join(out)


def _describe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = None
    url = args.database_url
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="sg-bench-")
        url = f"sqlite+aiosqlite:///{tmp.name}/bench.db"
    elif not url.startswith("sqlite"):
        ours = asyncio.run(data.claim_postgres_database(url))
        if not ours and not args.force:
            name = make_url(url).database
            print(
                f"bench: database {name!r} was not created by the bench, which empties it; "
                "name a new one (it is created) or pass --force",
                file=sys.stderr,
            )
            return 2
    try:
        data.migrate(url)
        outcome = asyncio.run(run_all(args, url))
    finally:
        if tmp is not None:
            tmp.cleanup()
    report = {
        "command": shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": _describe_url(url) if args.database_url else "sqlite (temp file)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "duration_seconds": args.duration,
        "transport": "in-process: httpx.ASGITransport; http: uvicorn subprocess on 127.0.0.1",
        **outcome,
    }
    print()
    print(table(report["scenarios"]))
    print()
    print(
        "x floor = app req/s / floor req/s, both measured in this run. Floor: the same rows by one"
    )
    print("raw SQL statement (SQLAlchemy Core text()) encoded with orjson.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.output}")
    return 0
