"""What operators see of the task machinery: the queue's gauges, read from the database at each
scrape (in the API's /metrics and a worker's), and a worker process's own small HTTP server
(WORKER_METRICS_PORT): /healthz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.db import database_cause, reading
from app.metrics import ReadAtScrape, exposition
from app.repositories import server_settings
from app.services import task_runs

log = logging.getLogger("app.worker")
CHECK_SECONDS = 2.0  # a health check's database round trip; slower is "unavailable"


async def queue_metrics(sessions: async_sessionmaker[AsyncSession]) -> list[Metric]:
    """The queue's gauges now, and whether the database answered (without it, no queue)."""
    up = GaugeMetricFamily(
        "studentgraph_database_up", "Whether the database answered this scrape's queue query"
    )
    try:
        async with asyncio.timeout(CHECK_SECONDS), reading(sessions) as session:
            queue = await task_runs.queue_state(session)
    except Exception:
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    depth = GaugeMetricFamily(
        "studentgraph_task_queue_depth", "Unfinished tasks, by status", labels=["status"]
    )
    depth.add_metric(["accepted"], queue.accepted)
    depth.add_metric(["running"], queue.running)
    age = GaugeMetricFamily(
        "studentgraph_task_oldest_accepted_age_seconds",
        "How long the oldest task still waiting for a worker has waited (0: none waits)",
        value=queue.oldest_accepted_seconds,
    )
    return [up, depth, age]


async def metrics_response(sessions: async_sessionmaker[AsyncSession]) -> Response:
    """Every metric (every process's, in multiprocess mode) and the queue's gauges."""
    body = exposition(ReadAtScrape(await queue_metrics(sessions)))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _Said:
    """A health check's failure is logged with its cause when it starts or its cause changes,
    and its end once: a probe every few seconds must not fill the log."""

    cause: str | None = None


async def database_answers(engine: AsyncEngine) -> bool:
    """Whether the database answers and accepts writes (a replica, or a primary demoted by a
    failover, is not ready: everything that writes would fail there)."""
    try:
        async with asyncio.timeout(CHECK_SECONDS), engine.connect() as connection:
            await server_settings.check_accepts_writes(connection)
    except Exception as exc:
        cause = database_cause(exc) or f"no answer within {CHECK_SECONDS:g} s"
        if cause != _Said.cause:
            log.warning("health check: the database does not answer", extra={"error": cause})
            _Said.cause = cause
        return False
    if _Said.cause is not None:
        log.info("health check: the database answers again")
        _Said.cause = None
    return True


async def check_statement_timeout(engine: AsyncEngine, settings: Settings) -> None:
    """Behind a transaction pooler the statement timeout is the role's default in the database
    (`studentgraph migrate` sets it): said in the log at start when it is not
    DATABASE_STATEMENT_TIMEOUT_MS, with how to mend it. A database that cannot be asked now is
    said too, with its cause, and not waited for."""
    if settings.database_pooler != "transaction":
        return
    wanted = settings.database_statement_timeout_ms
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            found = await server_settings.statement_timeout(engine)
    except Exception as exc:
        cause = database_cause(exc) or f"no answer within {CHECK_SECONDS:g} s"
        log.warning("could not check the server's statement timeout", extra={"error": cause})
        return
    if found != wanted:
        log.warning(
            f"the server's statement_timeout is {found} ms, DATABASE_STATEMENT_TIMEOUT_MS "
            f"{wanted}: run `studentgraph migrate` (it sets the role's default in the "
            "database), then RECONNECT the pooler",
            extra={"found_ms": found, "wanted_ms": wanted},
        )


def _health_app(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    working: asyncio.Task[None],
) -> Starlette:
    async def healthz(_request: Request) -> Response:
        """Served by the worker's own event loop: an answer at all says the loop turns. 200 when
        the worker is running and its database answers, 503 otherwise."""
        database = await database_answers(engine)
        running = not working.done()
        body = {
            "status": "ok" if database and running else "unavailable",
            "database": "ok" if database else "unavailable",
            "worker": "running" if running else "stopped",
        }
        return JSONResponse(body, 200 if database and running else 503)

    async def metrics(_request: Request) -> Response:
        return await metrics_response(sessions)

    routes = [Route("/healthz", healthz)]
    if settings.serves_metrics:  # METRICS_ENABLED, as for the API
        routes.append(Route("/metrics", metrics))
    return Starlette(routes=routes)


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here: uvicorn would exit the process on a port in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = exc.strerror
    # Raised outside the handler: an OSError in its context reads as an unreachable database.
    raise RuntimeError(f"WORKER_METRICS_PORT: cannot listen on {host}:{port}: {reason}")


@contextlib.asynccontextmanager
async def health_server(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    working: asyncio.Task[None],
) -> AsyncIterator[None]:
    """Serve /healthz and /metrics on WORKER_METRICS_PORT (if set) while inside."""
    if settings.worker_metrics_port is None:
        yield
        return
    import uvicorn  # only a worker that serves these pays for the import

    class QuietServer(uvicorn.Server):
        """uvicorn beside the worker: the worker's own signal handlers stop both."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    listener = _listen(settings.worker_metrics_host, settings.worker_metrics_port)
    config = uvicorn.Config(
        _health_app(settings, engine, sessions, working),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield
    finally:
        server.should_exit = True
        await serving
        listener.close()
