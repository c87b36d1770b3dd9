"""serve, migrate, token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.auth.scopes import ALL_SCOPES, known_scopes
from app.auth.tokens import mint
from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.metrics import MULTIPROC_VARIABLE
from app.migrate import upgrade
from app.repositories import server_settings
from app.repositories.reference import seed_missing_reference_data


def _settings() -> Settings:
    return Settings()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()  # refuse bad settings before binding the port
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
    settings = _settings()
    upgrade(settings.database_url)
    asyncio.run(_seed(settings))
    print("database is at the newest schema, with reference data")
    return 0


def token(args: argparse.Namespace) -> int:
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
    from app.graphql.schema import build_schema

    text = build_schema(federation=args.federation).as_str() + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    return 0


def register(commands: Any) -> None:
    p = commands.add_parser("serve", help="serve the API (and, on SQLite, an in-process worker)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.set_defaults(handler=serve)

    p = commands.add_parser(
        "migrate",
        help="create or upgrade the schema; add reference data (behind a transaction pooler, "
        "set the role's statement timeout)",
    )
    p.set_defaults(handler=migrate)

    p = commands.add_parser("token", help="mint a development JWT (HS256, not in production)")
    p.add_argument("--sub", required=True, help="the subject (a netid)")
    p.add_argument("--scope", default=None, help="scopes, space-separated (default all)")
    p.add_argument("--name", default=None, help="the `name` claim")
    p.add_argument("--email", default=None, help="the `email` claim")
    p.add_argument("--lifetime", type=int, default=None, help="seconds until it expires")
    p.set_defaults(handler=token)

    p = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    p.add_argument(
        "--federation",
        action="store_true",
        help="the subgraph's schema (GRAPHQL_FEDERATION=true), as a gateway composes it",
    )
    p.add_argument("--output", "-o", default=None, help="write to this file instead")
    p.set_defaults(handler=export_schema)
