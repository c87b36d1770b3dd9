"""create_app(): lifespan, middleware, /graphql and /api, health and metrics. No logic."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import tracing
from app.auth import signing
from app.auth.cutoffs import Cutoffs
from app.clock import Clock
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.errors import DomainError
from app.graphql import going_away as graphql_going_away
from app.graphql import http as graphql_http
from app.graphql import websocket as graphql_websocket
from app.graphql.schema import schema_for
from app.observability import BodyLimitMiddleware, RequestContextMiddleware, configure_logging
from app.ratelimit import build_brakes
from app.replicas import Replicas
from app.rest import PREFIX as REST_PREFIX
from app.rest import docs as rest_docs
from app.rest import errors as rest_errors
from app.rest import home as rest_home
from app.rest.router import build_router as build_rest_router
from app.services import accounts
from app.state import AppState
from app.worker import monitoring
from app.worker.embedded import background as worker_background

log = logging.getLogger("app")

# CORS (for the origins in CORS_ORIGINS): what a page on another origin may send to /graphql and
# /api, and which response headers its script may read (paging, caching, the task's Location,
# Retry-After, the request id that is also a continuation key, errors' headers).
CORS_METHODS = ("GET", "POST", "PATCH")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-None-Match")
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "Link",
    "X-Request-ID",
    "X-Total-Count",
    "X-Ignored-Filters",
    "X-Pagesize-Clamped",
    "WWW-Authenticate",
    "Allow",
)


def _install_error_handlers(app: FastAPI) -> None:
    """REST's translation answers every error that reaches the app (GraphQL's door answers its
    own: app/graphql/http.py)."""
    app.add_exception_handler(DomainError, rest_errors.domain_error)
    app.add_exception_handler(RequestValidationError, rest_errors.validation_error)
    app.add_exception_handler(StarletteHTTPException, rest_errors.http_error)
    app.add_exception_handler(Exception, rest_errors.unexpected)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    tracing.enable(settings, "studentgraph-api")  # with OTEL_EXPORTER_OTLP_ENDPOINT only

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        # Its own connection: the cut-offs' refresh is no request's statement.
        cutoffs_engine = create_engine(settings.model_copy(update={"database_pool_size": 1}))
        load = functools.partial(accounts.cutoff_table, create_sessionmaker(cutoffs_engine))
        schema = schema_for(settings)
        state = AppState(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            schema=schema,
            clock=clock or Clock(settings.clock_now),
            brakes=build_brakes(settings),
            cutoffs=Cutoffs(settings.account_cutoff_refresh_seconds, load),
            replicas=Replicas.of(settings, engine),
        )
        app.state.studentgraph = state
        # Everything built so far (schema, SQLAlchemy's and Strawberry's tables) lives as long as
        # the process: keep it out of the collector's way, so a full collection stays short
        # (it was the p99: tens of milliseconds walking objects that never die).
        gc.collect()
        gc.freeze()
        await monitoring.check_statement_timeout(engine, settings)  # behind a pooler only
        try:
            async with (
                worker_background(settings, engine),
                state.cutoffs.refreshing(),
                state.replicas.probing(),
            ):
                with graphql_going_away.before_uvicorn_stops():
                    yield
        finally:
            await state.brakes.close()
            await engine.dispose()
            await cutoffs_engine.dispose()

    app = FastAPI(
        title="studentgraph",
        summary="GraphQL over student records, with DartAPI-compatible REST routes.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: rest_docs.mount, with vendored assets
        redoc_url=None,
        openapi_url="/openapi.json" if settings.serves_docs else None,  # DOCS_ENABLED
        # FastAPI's native telemetry stays off whatever the global OpenTelemetry providers are:
        # traces come from app/tracing.py alone (no request twice; no body or error text).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Inside RequestContextMiddleware (a preflight gets a request id and an access line),
        # outside the routes' error translation (their error answers carry the CORS headers).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.add_middleware(RequestContextMiddleware)
    tracing.instrument_app(app)  # outside every middleware: the request's span is the root
    _install_error_handlers(app)
    door = graphql_http.build_door(settings)
    app.state.graphql_planner = door.planner
    app.include_router(graphql_http.build_router(door))
    graphql_http.mount_static(app)
    graphql_websocket.mount(app, door)
    app.include_router(build_rest_router(), prefix=REST_PREFIX)
    if settings.serves_docs:
        rest_docs.mount(app)
    rest_home.mount(app, settings)

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks() -> Response:
        """The public keys of the tokens POST /api/jwt mints (none without JWT_PRIVATE_KEY)."""
        return JSONResponse(signing.jwks(settings), headers={"Cache-Control": "max-age=300"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """503 when the database does not answer within monitoring.CHECK_SECONDS (a hung
        database or an exhausted pool must not hang the probe past its own timeout), or
        answers read-only (a replica, or a primary demoted by a failover). Replicas are not
        asked: reads go on on the primary without them."""
        state: AppState = request.app.state.studentgraph
        if not await monitoring.database_answers(state.engine):
            return JSONResponse({"status": "unavailable"}, 503)
        return JSONResponse({"status": "ready"})

    if settings.serves_metrics:  # METRICS_ENABLED; off, /metrics is a 404 like any unknown path

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            """Every process's metrics (multiprocess mode under `serve --workers N`) and the
            task queue's gauges, read from the database now."""
            state: AppState = request.app.state.studentgraph
            return await monitoring.metrics_response(state.sessions)

    return app
