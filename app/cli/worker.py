"""worker: run task workers in this process until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import notifications, tracing
from app.cli.commands import command
from app.config import Settings
from app.db import create_engine, create_sessionmaker, is_database_unavailable
from app.observability import configure_logging
from app.repositories import server_settings
from app.worker import Worker
from app.worker.monitoring import check_statement_timeout, health_server

log = logging.getLogger("app.worker")


async def _refuse_a_database_that_cannot_serve(engine: AsyncEngine) -> None:
    """A database that answers but cannot serve (missing, not migrated, a wrong password) stops
    the worker at once, in one line; one that cannot be reached is an outage, waited out like
    any other (README: During a database outage)."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1 FROM tasks WHERE 1 = 0"))
            await server_settings.check_accepts_writes(connection)
    except Exception as exc:
        if not is_database_unavailable(exc):
            await engine.dispose()
            raise


def pooled_for_slots(settings: Settings, concurrency: int | None) -> Settings:
    """Each slot holds a connection while it applies, and /healthz and the retention need one
    more each: a smaller pool would make them wait for a slot to finish (no overflow opens)."""
    slots = concurrency or settings.worker_concurrency
    pool_size = max(settings.database_pool_size, slots + 2)
    return settings.model_copy(update={"database_pool_size": pool_size})


async def _work(settings: Settings, concurrency: int | None) -> None:
    tracing.enable(settings, "studentgraph-worker")  # with OTEL_EXPORTER_OTLP_ENDPOINT only
    engine = create_engine(pooled_for_slots(settings, concurrency))
    await _refuse_a_database_that_cannot_serve(engine)
    await check_statement_timeout(engine, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Stop claiming; the task in hand is finished and committed before the process exits.
        loop.add_signal_handler(sig, stop.set)
    sessions = create_sessionmaker(engine)
    worker = Worker(settings, engine, sessions, concurrency=concurrency, prunes=True)
    log.info("worker started", extra={"worker": worker.name, "slots": worker.concurrency})
    try:
        channels = (notifications.TASKS_CHANNEL, notifications.CHANGES_CHANNEL)
        async with notifications.listening(engine, channels, url=settings.listen_url):
            working = asyncio.create_task(worker.run(stop))
            try:
                async with health_server(settings, engine, sessions, working):
                    await working
            finally:
                stop.set()
                await working
    finally:
        await engine.dispose()
    log.info("worker stopped", extra={"worker": worker.name})


def worker(args: argparse.Namespace) -> int:
    """Claim accepted tasks (PATCH /api/students/{netid}, setDplans) and apply them until
    SIGTERM or Ctrl-C, finishing the task in hand first. On PostgreSQL any number of workers may
    run; on SQLite, `serve` runs one in-process and this is for WORKER_IN_PROCESS=false. With
    WORKER_METRICS_PORT it serves /healthz and /metrics."""
    settings = Settings()
    configure_logging(settings.log_level)
    if settings.is_sqlite and (args.concurrency or 1) > 1:
        raise ValueError("SQLite has a single writer: run one slot (or use PostgreSQL)")
    asyncio.run(_work(settings, args.concurrency))
    return 0


async def _database_serves(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1 FROM tasks WHERE 1 = 0"))
            await server_settings.check_accepts_writes(connection)
    finally:
        await engine.dispose()


def ready(_args: argparse.Namespace) -> int:
    """Exit 0 when the database at DATABASE_URL answers, holds the schema and accepts writes (not a
    replica); otherwise one line saying why and exit status 1 (unreachable included): a container
    healthcheck."""
    settings = Settings()
    asyncio.run(_database_serves(settings))
    print("ready: the database answers, is migrated and accepts writes")
    return 0


def register(commands: Any) -> None:
    summary = "claim and apply accepted tasks (run as many as you like on PostgreSQL)"
    p = command(commands, "worker", worker, summary)
    slots = "tasks applied at once in this process (default: WORKER_CONCURRENCY; 1 on SQLite)"
    p.add_argument("--concurrency", type=int, default=None, help=slots)
    summary = "exit 0 when the database answers, is migrated and accepts writes (a healthcheck)"
    command(commands, "ready", ready, summary)
