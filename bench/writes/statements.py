"""Statements per task: the worker's own code, in this process, draining what is queued, with
every statement, BEGIN and COMMIT its engine sends counted."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, func, select

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models import Task
from app.worker import Worker


class Counter:
    def __init__(self) -> None:
        self.statements = 0
        self.transactions = 0

    def statement(self, *_args: Any) -> None:
        self.statements += 1

    def begin(self, *_args: Any) -> None:
        self.transactions += 1


async def per_task(url: str, tasks: int) -> dict[str, float]:
    settings = Settings(database_url=url, worker_in_process=False)
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    counter = Counter()
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", counter.statement)
    event.listen(sync, "begin", counter.begin)
    stop = asyncio.Event()
    worker = Worker(settings, engine, sessions)
    running = asyncio.create_task(worker.run(stop))
    watcher = create_engine(settings)  # its own engine: the watching is not counted
    try:
        while True:
            async with create_sessionmaker(watcher)() as session:
                left = await session.scalar(
                    select(func.count()).where(Task.status.in_(("accepted", "running")))
                )
            if not left:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
        await engine.dispose()
        await watcher.dispose()
    statements = counter.statements
    return {
        "tasks": tasks,
        "statements": statements + 2 * counter.transactions,
        "transactions": counter.transactions,
        "per_task": (statements + 2 * counter.transactions) / max(tasks, 1),
    }
