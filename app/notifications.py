"""Hearing about tasks: an in-process hub that fans out notifications to this process's
consumers (workers, subscriptions), and, on PostgreSQL, a LISTEN connection that forwards every
process's notifications into it. Sending a notification is SQL (it rides the sender's
transaction): app/repositories/notify.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("app.notify")

TASKS_CHANNEL = "studentgraph_tasks"  # payload: the resource id of a task that became claimable
# payload: "<task id>[,<task id>...]:<status>", the tasks that reached it in one transaction
TASK_UPDATES_CHANNEL = "studentgraph_task_updates"
TASK_CHANNELS = (TASKS_CHANNEL, TASK_UPDATES_CHANNEL)
# payload: the highest position a committed transaction wrote (app/repositories/changes.py)
CHANGES_CHANNEL = "studentgraph_changes"
API_CHANNELS = (*TASK_CHANNELS, CHANGES_CHANNEL)  # what an API process listens to


class Hub:
    """In-process fan-out: each subscriber has its own queue per channel."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    def publish(self, channel: str, payload: str) -> None:
        for queue in list(self._queues.get(channel, ())):
            queue.put_nowait(payload)

    @contextlib.contextmanager
    def subscribe(self, channel: str) -> Iterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._queues[channel].add(queue)
        try:
            yield queue
        finally:
            self._queues[channel].discard(queue)


_hubs: dict[str, Hub] = {}


def hub_for(engine: AsyncEngine | Engine) -> Hub:
    """The hub of one database: every engine in this process that uses it shares it."""
    key = engine.url.render_as_string(hide_password=True)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = Hub()
    return hub


class PgListener:
    """LISTENs on PostgreSQL and forwards into the engine's hub; reconnects when the link drops
    (consumers poll meanwhile, so a lost notification only costs latency). Its connection is
    its own, to `url` (DATABASE_LISTEN_URL): a LISTEN must hold one server session, which a
    transaction pooler would not give it."""

    def __init__(self, engine: AsyncEngine, channels: tuple[str, ...], url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql")
        self.channels = channels
        self.hub = hub_for(engine)
        self.connected = asyncio.Event()
        self.first_try = asyncio.Event()  # set once the first connection attempt has an outcome

    def _forward(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self.hub.publish(channel, payload)

    async def _listen_once(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url.render_as_string(hide_password=False))
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        try:
            for channel in self.channels:
                await conn.add_listener(channel, self._forward)
            self.connected.set()
            self.first_try.set()
            where = self.url.render_as_string(hide_password=True)
            log.info("LISTEN connected", extra={"channels": list(self.channels), "to": where})
            await lost.wait()
        finally:
            self.connected.clear()
            await conn.close()

    async def run(self) -> None:
        """Listen until cancelled; while the database is away, try again every second (said
        once in the log, and once more when back)."""
        failing = False
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: log, wait, reconnect
                if not failing:
                    log.warning("LISTEN connection lost; reconnecting", extra={"error": str(exc)})
                failing = True
                self.first_try.set()
            await asyncio.sleep(1.0)


@contextlib.asynccontextmanager
async def listening(
    engine: AsyncEngine, channels: tuple[str, ...] = API_CHANNELS, *, url: str | None = None
) -> AsyncIterator[None]:
    """Forward PostgreSQL notifications into `engine`'s hub while inside, LISTENing on a
    connection of its own to `url` (Settings.listen_url; default: the engine's own database).
    Nothing to do on SQLite."""
    if engine.dialect.name != "postgresql":
        yield
        return
    own = engine.url.render_as_string(hide_password=False)
    listener = PgListener(engine, channels, url or own)
    task = asyncio.create_task(listener.run())
    with contextlib.suppress(asyncio.TimeoutError):
        # Wait briefly for LISTEN to be in place so a first notification is not missed; not
        # when the database refuses at once (starting during an outage: the listener retries).
        await asyncio.wait_for(listener.first_try.wait(), 5.0)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def new_work(engine: AsyncEngine) -> contextlib.AbstractContextManager[asyncio.Queue[str]]:
    """A queue that receives a resource id whenever a task may have become claimable."""
    return hub_for(engine).subscribe(TASKS_CHANNEL)


def task_changes(engine: AsyncEngine) -> contextlib.AbstractContextManager[asyncio.Queue[str]]:
    """A queue that receives `<task id>:<status>` whenever a task changes status."""
    return hub_for(engine).subscribe(TASK_UPDATES_CHANNEL)


def record_changes(engine: AsyncEngine) -> contextlib.AbstractContextManager[asyncio.Queue[str]]:
    """A queue that receives a position whenever change entries up to it were committed."""
    return hub_for(engine).subscribe(CHANGES_CHANNEL)
