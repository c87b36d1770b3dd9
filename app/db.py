"""Async engine and sessions; one transaction per request, committed in `transaction`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    ConnectionDoesNotExistError,
    CrashShutdownError,
    InterfaceError,
    PostgresConnectionError,
    ProtocolViolationError,
    QueryCanceledError,
)
from sqlalchemy import Row, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.base import Executable

from app import tracing
from app.config import Settings
from app.errors import DatabaseUnavailable, StatementTimeout
from app.metrics import POOL_IN_USE, SQL_STATEMENTS

# What asyncpg raises on a connection the server has dropped (a restart, an idle timeout); its
# InterfaceError only when it says the connection is closed (as SQLAlchemy's asyncpg dialect
# reads it): the same class is raised for a caller's mistakes, such as more than 32,767
# arguments or a value of the wrong type (DataError), and those are no outage.
DISCONNECTED = (ConnectionDoesNotExistError, ConnectionResetError)
CLOSED = "connection is closed"
# ... and, with those, what says the server cannot be reached at all right now.
UNREACHABLE = (
    *DISCONNECTED,
    OSError,  # connection refused, reset, unreachable
    TimeoutError,
    PostgresConnectionError,
    CannotConnectNowError,  # starting up
    AdminShutdownError,  # shutting down, or the connection terminated
    CrashShutdownError,
    # No pooled connection came free within DATABASE_POOL_TIMEOUT_SECONDS: for this request the
    # database is as unavailable (overloaded), and a 503 with Retry-After says so.
    PoolTimeout,
)
# PgBouncer says everything with SQLSTATE 08P01 (protocol_violation), which asyncpg raises as a
# connection error. These say the server behind it is away or busy: an outage, retried. Any other
# (an unsupported startup parameter, an unknown database or user, a protocol error) is a refusal
# that no retry mends: logged with its cause, never a 503 (docs/operations/pgbouncer.md).
POOLER_OUTAGES = (
    "query_wait_timeout",  # no server connection came free in time
    "client_login_timeout",  # the server did not let the pooler log in in time
    "server_login_retry",  # logging in to the server has been failing
    "max_client_conn",  # the pooler has all the clients it takes
    "server conn crashed",  # the server went away mid-statement
    "the database system is",  # starting up, shutting down, in recovery (the server's words)
)


def is_disconnected(exc: BaseException) -> bool:
    """asyncpg's word that this connection is gone (not that the statement was wrong)."""
    if isinstance(exc, DISCONNECTED):
        return True
    return type(exc) is InterfaceError and CLOSED in str(exc)


# Prepared statements the sqlite3 module keeps per connection (its default: 128). A planned
# read's statement is one per selection and can be tens of KB of SQL, which SQLite prepares into
# about 25 times that (a 56 KB statement held ~0.8 MB): 128 of them per pooled connection held
# ~100 MB. 16 keep a working set of shapes prepared (README: Memory).
SQLITE_CACHED_STATEMENTS = 16


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the one writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # `startsWith` is case-sensitive, as on PostgreSQL (a name match lowercases both sides).
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.close()
    # SQLite has no base64; planned reads build global ids and cursors with these.
    dbapi_connection.create_function("sg_base64", 1, _base64, deterministic=True)
    dbapi_connection.create_function("sg_base64url", 1, _base64url, deterministic=True)


def _base64(value: Any) -> str | None:
    return None if value is None else base64.b64encode(str(value).encode()).decode()


def _base64url(value: Any) -> str | None:
    return None if value is None else base64.urlsafe_b64encode(str(value).encode()).decode()


def _count_statement(*_args: Any) -> None:
    SQL_STATEMENTS.inc()


def _count_pool(engine: AsyncEngine) -> None:
    """Connections in use, for /metrics. Listened to after any other checkout listener: one
    that refuses a connection (`_refuse_closed`) raises before this counts it."""
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(engine.sync_engine.pool, "checkin", lambda *_: POOL_IN_USE.dec())


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    # hide_parameters everywhere: a logged database error must not carry a requester's email.
    database_url = url or settings.database_url
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            database_url,
            hide_parameters=True,
            connect_args={"cached_statements": SQLITE_CACHED_STATEMENTS},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
        _count_pool(engine)
        tracing.instrument_engine(engine)
        return engine
    pooled = settings.database_pooler == "transaction"
    engine = create_async_engine(
        database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        hide_parameters=True,
        connect_args=transaction_pooled() if pooled else _direct(settings),
    )
    if pooled:
        event.listen(engine.sync_engine, "connect", _keep_unnamed_statements)
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    _count_pool(engine)
    tracing.instrument_engine(engine)
    return engine


def _direct(settings: Settings) -> dict[str, Any]:
    """The statement timeout rides the connection's startup; asyncpg names the statements it
    prepares and keeps 100 of them per connection (each later run is one round trip)."""
    timeout = settings.database_statement_timeout_ms
    return {"server_settings": {"statement_timeout": str(timeout)}} if timeout else {}


def transaction_pooled() -> dict[str, Any]:
    """Behind a transaction pooler, where consecutive statements outside a transaction may run
    on different server connections: asyncpg's statement cache off, so every statement is the
    unnamed one and its Parse is sent again with each Bind (one message, one server
    connection); nothing named is ever left on a server connection for another client to run.
    SQLAlchemy's own cache (100 per connection) still keeps each statement's description, so a
    repeated statement is one round trip. No startup parameters the pooler refuses (the
    statement timeout is the role's default, app/repositories/server_settings.py).

    `client_encoding` is sent as the server spells it: asyncpg's own `'utf-8'` differs from the
    server's `UTF8`, and PgBouncer sends a `SET client_encoding` to the server before every
    transaction it gives a client whose value differs (a round trip each)."""
    return {"statement_cache_size": 0, "server_settings": {"client_encoding": "UTF8"}}


class UnnamedStatements:
    """Unnamed prepared statements of one asyncpg connection, by SQL (the `RECENT` last used):
    what `fetch_row` runs straight on the driver behind a transaction pooler. Kept, a statement
    is described once; each run re-sends its Parse with its Bind, so it needs nothing of the
    server connection it lands on."""

    RECENT = 100

    def __init__(self) -> None:
        self._statements: OrderedDict[str, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._statements)

    async def prepared(self, driver: Any, sql: str) -> Any:
        statement = self._statements.get(sql)
        if statement is None:
            statement = self._statements[sql] = await driver.prepare(sql)
            if len(self._statements) > self.RECENT:
                self._statements.popitem(last=False)
        else:
            self._statements.move_to_end(sql)
        return statement


UNNAMED = "studentgraph_unnamed_statements"  # the connection's UnnamedStatements, in its info


def _keep_unnamed_statements(_dbapi_connection: Any, record: Any) -> None:
    record.info[UNNAMED] = UnnamedStatements()


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Instead of a pre-ping (a round trip per request): a connection the server closed (a
    restart, an idle timeout, pg_terminate_backend) is known closed to asyncpg without asking,
    and the pool replaces it. One dropped in a way nobody noticed yet fails its first statement;
    `fetch_row` then retries once on a fresh connection."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


class SerializedSession(AsyncSession):
    """An AsyncSession whose statements take turns.

    GraphQL resolves sibling fields (and dataloader batches) concurrently on one event loop, but a
    session has one connection and refuses concurrent use; a lock makes them queue instead."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn = asyncio.Lock()

    # Each session method that sends a statement takes its turn the same way.
    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        async with self.turn:
            return await super().execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        async with self.turn:
            return await super().scalar(*args, **kwargs)

    # No `scalars` here: AsyncSession.scalars calls `execute`, which takes the turn (taking it
    # here too would wait on itself forever: the lock is not reentrant).

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        async with self.turn:
            return await super().get(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        async with self.turn:
            await super().flush(*args, **kwargs)


async def fetch_all(
    session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None
) -> list[Row[*tuple[Any, ...]]]:
    """Rows of a Core statement, run on the session's connection (in its transaction).

    Read paths use this instead of `session.execute`: skipping the ORM's execution layer saves
    about a third of a millisecond per statement, which is most of the cost of a small query."""
    turn = session.turn if isinstance(session, SerializedSession) else contextlib.nullcontext()
    async with turn:
        connection = await session.connection()
        return list((await connection.execute(statement, params)).all())


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine, class_=SerializedSession, expire_on_commit=False, autoflush=False
    )


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The one place a unit of work commits: on success, before the caller answers anyone."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads, on a connection in autocommit: no BEGIN and no COMMIT around
    its statements (two round trips saved). Nothing is lost: at READ COMMITTED, PostgreSQL gives
    each statement its own snapshot inside a transaction too."""
    async with sessions() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


# --- one read statement, straight on the driver ---------------------------------------------------

StatementHook = Callable[[str], None]
statement_hooks: list[StatementHook] = []  # told of each statement run by `fetch_row` (tests)


async def fetch_row(engine: AsyncEngine, sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
    """The first row of one read statement, run on the driver's own connection outside any
    transaction: a lone read needs no BEGIN/COMMIT, and skipping SQLAlchemy's execution layer
    leaves the database the only cost. A connection found dropped (the server restarted) is
    discarded and the statement run once more on a fresh one: no pre-ping per request.
    `StatementTimeout` past the statement timeout, `DatabaseUnavailable` when the database
    cannot be reached."""
    row = await _translated(engine, sql, params, fetch=True)
    assert row is not None
    return row


async def execute_lone(engine: AsyncEngine, sql: str, params: Sequence[Any]) -> None:
    """One writing statement, committed on its own (PostgreSQL: outside any transaction block,
    so the server commits it; SQLite: in a transaction of its own). Errors as `fetch_row`'s."""
    await _translated(engine, sql, params, fetch=False)


async def _translated(
    engine: AsyncEngine, sql: str, params: Sequence[Any], *, fetch: bool
) -> tuple[Any, ...] | None:
    try:
        return await _run_lone(engine, sql, params, fetch)
    except QueryCanceledError as exc:
        raise StatementTimeout() from exc
    except Exception as exc:
        if is_database_unavailable(exc):
            raise DatabaseUnavailable() from exc
        raise


async def _run_lone(
    engine: AsyncEngine, sql: str, params: Sequence[Any], fetch: bool
) -> tuple[Any, ...] | None:
    for attempt in (1, 2):
        async with engine.connect() as connection:
            pooled = await connection.get_raw_connection()
            driver: Any = pooled.driver_connection
            SQL_STATEMENTS.inc()
            for hook in statement_hooks:
                hook(sql)
            try:
                with tracing.statement(sql, engine.dialect.name):
                    if engine.dialect.name == "postgresql":
                        return await _on_asyncpg(pooled, sql, params, fetch)
                    if not fetch:
                        await driver.execute(sql, params)
                        await driver.commit()
                        return None
                    return tuple((await driver.execute_fetchall(sql, params))[0])
            except Exception as exc:
                if not is_disconnected(exc):
                    raise
                await connection.invalidate()
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


async def _on_asyncpg(
    pooled: Any, sql: str, params: Sequence[Any], fetch: bool
) -> tuple[Any, ...] | None:
    driver = pooled.driver_connection
    unnamed: UnnamedStatements | None = pooled.info.get(UNNAMED)
    if unnamed is None:  # asyncpg's named, cached statements
        if not fetch:
            await driver.execute(sql, *params)
            return None
        return tuple(await driver.fetchrow(sql, *params))
    statement = await unnamed.prepared(driver, sql)
    if not fetch:
        await statement.fetch(*params)
        return None
    return tuple(await statement.fetchrow(*params))


def _causes(exc: BaseException | None) -> list[BaseException]:
    """The exception and what it wraps (SQLAlchemy's `orig`, the `__cause__` chain)."""
    chain: list[BaseException] = []
    while exc is not None and len(chain) < 6:
        chain.append(exc)
        exc = getattr(exc, "orig", None) or exc.__cause__
    return chain


def is_database_unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached (down, restarting): a 503, not a 500. What a pooler
    says is an outage only when it says the server is away or busy (`POOLER_OUTAGES`). A driver
    error about the statement (too many arguments, a value of the wrong type) is not one: it is a
    500, masked, with its cause logged."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ProtocolViolationError):
            return any(outage in str(cause) for outage in POOLER_OUTAGES)
    for cause in causes:
        if getattr(cause, "connection_invalidated", False) or isinstance(cause, UNREACHABLE):
            return True
        if is_disconnected(cause):
            return True
    return False


def database_cause(exc: BaseException | None) -> str:
    """What the driver, the pooler or the server said last (its class and first line), for the
    log line of a failure: `ConnectionRefusedError: [Errno 111] Connect call failed ...`."""
    causes = _causes(exc)
    if not causes:
        return ""
    innermost = causes[-1]
    said = next(iter(str(innermost).strip().splitlines()), "")
    return f"{type(innermost).__name__}: {said}"[:300]


def is_statement_timeout(exc: BaseException | None) -> bool:
    """A statement stopped by PostgreSQL's statement_timeout, however SQLAlchemy wrapped it."""
    return any(isinstance(cause, QueryCanceledError) for cause in _causes(exc))
