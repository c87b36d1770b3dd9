"""What the API process runs beside its requests: the PostgreSQL LISTEN bridge (for workers and
subscriptions) and, by default on SQLite, the in-process worker (the single claimer there)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from app import notifications
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.worker.runner import Worker

log = logging.getLogger("app.worker")


@contextlib.asynccontextmanager
async def _in_process_worker(settings: Settings) -> AsyncIterator[None]:
    # Its own engine (pool), so its polling never shows up in request statement counts; it
    # hears new tasks through the database's hub, which every engine on that database shares.
    engine = create_engine(settings)
    worker = Worker(settings, engine, create_sessionmaker(engine), prunes=settings.is_sqlite)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    log.info("in-process worker started", extra={"worker": worker.name})
    try:
        yield
    finally:
        stop.set()
        try:
            # Finish the task in hand; a lease covers anything cut short beyond this.
            await asyncio.wait_for(task, timeout=settings.worker_lease_seconds)
        except TimeoutError:
            log.warning("in-process worker did not stop in time")
        finally:
            await engine.dispose()


@contextlib.asynccontextmanager
async def background(settings: Settings, engine: AsyncEngine) -> AsyncIterator[None]:
    """Run the background parts of the API process while inside."""
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(notifications.listening(engine, url=settings.listen_url))
        if settings.runs_in_process_worker:
            await stack.enter_async_context(_in_process_worker(settings))
        yield
