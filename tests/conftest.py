"""Test wiring: every database test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is
set (CI sets it). PostgreSQL tests use a database of their own per run, so parallel runs (and the
`test` database itself) never collide."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.clock import Clock
from app.config import Settings
from app.db import create_engine, create_sessionmaker, statement_hooks, transaction
from app.main import create_app
from app.migrate import upgrade
from app.models import Base, Disclosure
from app.repositories.reference import seed_missing_reference_data
from app.services import reference as reference_service
from tests.factories import student_records

# Throwaway clusters, PgBouncer and replicas for the tests that need their own (tests/infra.py).
pytest_plugins = ["tests.infra"]

SEED_DAY = datetime(2019, 7, 1, 12, 0, tzinfo=UTC)  # the day the seed samples' offsets hold
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _settings(url: str) -> Settings:
    # No rate limit or budget: a test sends hundreds of requests a second as one caller (their
    # own tests turn them on); and the planner's and the loaders' answers must be the same bytes,
    # which a budget left in `extensions` would not be.
    return Settings(
        database_url=url,
        environment="test",
        log_level="WARNING",
        rate_limit_per_second=0,
        rate_limit_cost_per_minute=0,
    )


async def _seed(url: str) -> None:
    engine = create_engine(_settings(url))
    async with transaction(create_sessionmaker(engine)) as session:
        await seed_missing_reference_data(session)
    await engine.dispose()


def _admin_url() -> str:
    url = os.environ["TEST_DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    return url


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    asyncio.run(_seed(url))
    return path


@contextmanager
def _own_postgres_database() -> Iterator[str]:
    """A migrated database of this process's own on the TEST_DATABASE_URL server (its name has
    the pid: each xdist worker has its own), dropped after."""
    admin = _admin_url()
    name = f"sg_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with _own_postgres_database() as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database with reference data that a module's tests share: for a server the
    module starts once rather than per test. Its own database (not `database_url`'s, which
    other modules' tests empty), so what one test writes the next sees: such tests use data
    of their own (netids, idempotency keys) and count relative to what they found."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-db") / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    with _own_postgres_database() as url:
        asyncio.run(_seed(url))
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with reference data and nothing else, fresh for each test."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)

    async def reset() -> None:
        engine = create_engine(_settings(url))
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        await engine.dispose()
        await _seed(url)

    asyncio.run(reset())
    # The same URL for every test: a current term remembered by an earlier test would run out
    # in the middle of this one (one statement more than it counted).
    reference_service.forget_current_terms()
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return _settings(database_url)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for building data; commit what the app must see."""
    async with sessions() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock(SEED_DAY)


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Any]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def assert_same_disclosures(planned: set[Any], loaded: set[Any], document: bytes) -> None:
    """The same students disclosed to the same caller through the same operation. The planner
    records every record type its selection asks of a student it shows; the resolvers the ones
    they resolved, which is fewer where a nested object is null or a list empty (`parent`
    of a plan without one): the planner's types include the resolvers'."""
    by_netid = {(n, *rest): set(t.split(",")) for n, t, *rest in planned}
    assert by_netid.keys() == {(n, *rest) for n, _, *rest in loaded}, (document, planned, loaded)
    for n, t, *rest in loaded:
        assert set(t.split(",")) <= by_netid[(n, *rest)], (document, planned, loaded)


class DifferentialTransport(httpx.AsyncBaseTransport):
    """Every GraphQL request the planner answers is answered again with the planner off (the
    dataloaders, on the same database), and the two bodies must be the same bytes, and the two
    answers must have recorded the same disclosures. So every read document the suite sends is a
    differential test of the two engines."""

    def __init__(self, app: Any, loaders_app: Any) -> None:
        self.app = app
        self.planned = httpx.ASGITransport(app=app)
        self.loaders = httpx.ASGITransport(app=loaders_app)
        # Its own engine, so that checking the records is not counted as the app's statements.
        self.records = create_engine(app.state.studentgraph.settings)

    async def aclose(self) -> None:
        await self.records.dispose()

    async def _answer(
        self, transport: httpx.ASGITransport, request: httpx.Request
    ) -> tuple[int, bytes, str]:
        copy = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.content
        )
        response = await transport.handle_async_request(copy)
        return response.status_code, await response.aread(), response.headers["x-request-id"]

    async def _disclosed(self, request_id: str) -> set[tuple[str, ...]]:
        """The students of one answer's disclosure records, each with its record's types,
        operation, caller and scopes (a record names several students: one per student here,
        so the two engines are compared student by student, however they group them)."""
        async with self.records.connect() as connection:
            shown = await student_records(connection, Disclosure.request_id == request_id)
        return {(s.netid, s.record_types, s.operation, s.sub, s.scopes) for s in shown}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        planner = self.app.state.graphql_planner
        if request.url.path != "/graphql" or planner is None:
            return await self.planned.handle_async_request(request)
        await request.aread()
        for attempt in (1, 2):
            answered = planner.answered
            planned = await self.planned.handle_async_request(request)
            body = await planned.aread()
            if planner.answered == answered:
                return planned  # the resolvers answered: nothing to compare
            *loaded, loaded_id = await self._answer(self.loaders, request)
            # A worker may apply a task between the two reads; then both are read again once.
            if [planned.status_code, body] == loaded or attempt == 2:
                assert [planned.status_code, body] == loaded, (request.content, body, loaded)
                planned_records = await self._disclosed(planned.headers["x-request-id"])
                loaded_records = await self._disclosed(loaded_id)
                assert_same_disclosures(planned_records, loaded_records, request.content)
                return planned
        raise AssertionError("unreachable")


@pytest.fixture
async def client(app: Any, loaders_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = DifferentialTransport(app, loaders_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def loaders_app(settings: Settings, clock: Clock) -> AsyncIterator[Any]:
    """The app with the planner off: every operation runs through the resolvers and loaders."""
    off = settings.model_copy(update={"graphql_planner": False, "worker_in_process": False})
    application = create_app(off, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def loaders_client(loaders_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=loaders_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def driver_statement(self, statement: str) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def counting_statements(app: Any) -> Iterator[StatementCounter]:
    """Counts the SQL statements the app's engine runs (through SQLAlchemy or, for the one-statement
    reads, straight on the driver: `app.db.fetch_row`)."""
    counter = StatementCounter()
    engine = app.state.studentgraph.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    statement_hooks.append(counter.driver_statement)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)
        statement_hooks.remove(counter.driver_statement)


@contextmanager
def counting_commits(engine: AsyncEngine) -> Iterator[list[object]]:
    """The commits `engine`'s connections make while the block runs (one per transaction)."""
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(engine.sync_engine, "commit", committed)
    try:
        yield commits
    finally:
        event.remove(engine.sync_engine, "commit", committed)


@pytest.fixture
def sql_counter(app: Any) -> Iterator[StatementCounter]:
    with counting_statements(app) as counter:
        yield counter


@pytest.fixture
def loaders_sql_counter(loaders_app: Any) -> Iterator[StatementCounter]:
    with counting_statements(loaders_app) as counter:
        yield counter


def bearer(settings: Settings, *scopes: str, sub: str = "f003ghc", **claims: Any) -> dict[str, str]:
    token = mint(settings, sub=sub, scopes=list(scopes), **claims)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(settings: Settings) -> Any:
    """`auth(*scopes, sub=...)` -> headers; `auth()` with no scopes gives every scope."""

    def headers(*scopes: str, sub: str = "f003ghc", **claims: Any) -> dict[str, str]:
        return bearer(settings, *(scopes or ALL_SCOPES), sub=sub, **claims)

    return headers


@pytest.fixture
def read_statements(settings: Settings) -> int:
    """Statements of one read that shows a student: the read alone on PostgreSQL (it writes its
    disclosure records itself), the read and then the records on SQLite."""
    return 1 if settings.database_url.startswith("postgresql") else 2
