"""serve, migrate, token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.auth.scopes import ALL_SCOPES, known_scopes
from app.auth.tokens import mint
from app.cli.commands import command
from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.metrics import MULTIPROC_VARIABLE
from app.migrate import shown_url, upgrade
from app.repositories import server_settings
from app.repositories.reference import seed_missing_reference_data


def _settings() -> Settings:
    return Settings()


def serve(args: argparse.Namespace) -> int:
    """Serve /graphql, /api, /healthz, /readyz (and /docs, /redoc, /metrics where DOCS_ENABLED
    and METRICS_ENABLED allow) until SIGTERM or Ctrl-C. Settings come from the environment
    (DATABASE_URL, JWT_*, ...); bad ones are listed before the port is bound, and a port already
    in use is one line and exit status 1."""
    import uvicorn

    settings = _settings()  # refuse bad settings before binding the port
    _refuse_a_port_in_use(args.host, args.port)
    with _metrics_shared_by(args.workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_config=None,
            # A WebSocket message is held by the same bound as a request body (closed 1009).
            ws_max_size=settings.max_body_bytes,
        )
    return 0


def _refuse_a_port_in_use(host: str, port: int) -> None:
    """One line (exit status 1) for an address that cannot be listened on, before uvicorn
    starts the app only to log its own failure across several JSON lines (and exit 3). Bound
    as uvicorn binds it (SO_REUSEADDR: a port in TIME_WAIT is free), then released."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, port), family=family):
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                f"port {port} on {host} is already in use (another server is listening there): "
                "stop it, or choose another with --port"
            ) from None
        raise OSError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """Several worker processes keep their metrics in files of a fresh directory (prometheus-
    client's multiprocess mode), so that a scrape answered by any of them counts all of them;
    the directory is removed when they stop. Set before they start: each reads it at import."""
    if workers <= 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="studentgraph-metrics-")
    previous = os.environ.get(MULTIPROC_VARIABLE)
    os.environ[MULTIPROC_VARIABLE] = directory
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_VARIABLE, None)
        else:
            os.environ[MULTIPROC_VARIABLE] = previous
        shutil.rmtree(directory, ignore_errors=True)


async def _seed(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_missing_reference_data(session)
        if settings.database_pooler == "transaction":  # README: Behind PgBouncer
            timeout = settings.database_statement_timeout_ms
            await server_settings.set_role_statement_timeout(engine, timeout)
            print(
                f"statement_timeout = {timeout} ms for this role in this database (the "
                "pooler's server connections opened before keep theirs until it reconnects them)"
            )
    finally:
        await engine.dispose()


def migrate(_args: argparse.Namespace) -> int:
    """Bring the database at DATABASE_URL to the newest schema revision and add the reference
    data (terms, D-plan codes) it lacks; running it again changes nothing. Behind a transaction
    pooler (DATABASE_POOLER=transaction) it also sets the role's statement timeout. Prints the
    database (without its password) and the revision."""
    settings = _settings()
    revision = upgrade(settings.database_url)
    asyncio.run(_seed(settings))
    print(
        f"migrated {shown_url(settings.database_url)} to revision {revision} (the newest "
        "schema), with reference data"
    )
    return 0


def token(args: argparse.Namespace) -> int:
    """Print a JWT signed with JWT_SECRET, for development and tests: every scope unless --scope
    names some. Refused in production (ENVIRONMENT=production), where tokens come from
    POST /api/jwt or an identity provider."""
    scopes = known_scopes(args.scope, loc="--scope") if args.scope else list(ALL_SCOPES)
    print(
        mint(
            _settings(),
            sub=args.sub,
            scopes=scopes,
            name=args.name,
            email=args.email,
            lifetime_seconds=args.lifetime,
        )
    )
    return 0


def export_schema(args: argparse.Namespace) -> int:
    """Print the GraphQL schema in SDL, as the server serves it (schema.graphql in the repository
    is this output; `make schema` writes it)."""
    from app.graphql.schema import build_schema

    text = build_schema(federation=args.federation).as_str() + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    return 0


def register(commands: Any) -> None:
    p = command(commands, "serve", serve, "serve the API (and, on SQLite, an in-process worker)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    command(commands, "migrate", migrate, "create or upgrade the schema; add reference data")

    p = command(commands, "token", token, "mint a development JWT (HS256, not in production)")
    p.add_argument("--sub", required=True, help="the subject (a netid)")
    p.add_argument("--scope", default=None, help="scopes, space-separated (default: all)")
    p.add_argument("--name", default=None, help="the `name` claim")
    p.add_argument("--email", default=None, help="the `email` claim")
    lifetime = "seconds until it expires (default: TOKEN_LIFETIME_SECONDS, 8 hours)"
    p.add_argument("--lifetime", type=int, default=None, help=lifetime)

    p = command(commands, "export-schema", export_schema, "print the GraphQL schema (SDL)")
    subgraph = "the subgraph's schema (GRAPHQL_FEDERATION=true), as a gateway composes it"
    p.add_argument("--federation", action="store_true", help=subgraph)
    p.add_argument("--output", "-o", help="write to this file (default: standard output)")
