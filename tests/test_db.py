"""Engine settings that matter beyond speed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.models import StudentDplan
from app.repositories.students import StudentRepository


class TestEngine:
    async def test_database_errors_do_not_carry_values(self, session):
        with pytest.raises(IntegrityError) as raised:
            await session.execute(
                insert(StudentDplan).values(
                    netid="secret9x",
                    term_code="201901",
                    dplan_id="R",
                    dplan_source_id="PHL",
                    updated_at=datetime.now(UTC),
                )
            )
        assert "secret9x" not in str(raised.value)

    async def test_foreign_keys_are_enforced(self, session):
        # SQLite enforces them only with PRAGMA foreign_keys, set on every connection.
        with pytest.raises(IntegrityError):
            await session.execute(
                insert(StudentDplan).values(
                    netid="nobody",
                    term_code="201901",
                    dplan_id="R",
                    dplan_source_id="PHL",
                    updated_at=datetime.now(UTC),
                )
            )
        await session.rollback()
        assert await StudentRepository(session).by_netid("nobody", include_protected=True) is None


class TestPool:
    """Past the pool, a request waits for a pooled connection: a connection opened for one
    request and closed at its end would cost a server process per request under load (at 32
    concurrent clients that halved the read throughput: docs/design/benchmarks.md)."""

    async def test_concurrent_reads_share_the_pooled_connections(self, settings, database_url):
        if not database_url.startswith("postgresql"):
            pytest.skip("the connection pool: PostgreSQL")
        import asyncio

        from sqlalchemy import event

        from app.db import create_engine, fetch_row

        engine = create_engine(settings.model_copy(update={"database_pool_size": 2}))
        opened: list[object] = []
        event.listen(engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))
        try:
            rows = await asyncio.gather(
                *(fetch_row(engine, "SELECT $1::int, pg_sleep(0.05)", [i]) for i in range(8))
            )
        finally:
            await engine.dispose()
        assert [row[0] for row in rows] == list(range(8))
        assert len(opened) == 2


class TestReading:
    """A read-only unit of work sends no BEGIN/COMMIT (PostgreSQL: asyncpg's query log)."""

    async def test_no_begin_or_commit(self, settings, database_url):
        if not database_url.startswith("postgresql"):
            pytest.skip("asyncpg's query log: PostgreSQL")
        from sqlalchemy import text

        from app.db import create_engine, create_sessionmaker, reading, transaction

        engine = create_engine(settings)
        sessions = create_sessionmaker(engine)
        sent: dict[str, list[str]] = {}
        try:
            for name, unit in (("reading", reading), ("transaction", transaction)):
                log: list[str] = []

                def record(query, log=log) -> None:
                    log.append(query.query)

                async with unit(sessions) as session:
                    connection = await session.connection()
                    driver = (await connection.get_raw_connection()).driver_connection
                    driver.add_query_logger(record)
                    await session.execute(text("SELECT 1"))
                driver.remove_query_logger(record)
                sent[name] = log
        finally:
            await engine.dispose()
        assert not any("BEGIN" in q or "COMMIT" in q for q in sent["reading"]), sent
        assert any("COMMIT" in q for q in sent["transaction"]), sent


class TestTransactionPooled:
    """DATABASE_POOLER=transaction: every statement is the unnamed one, so nothing named is left
    on a server connection a pooler hands to another client (docs/operations/pgbouncer.md)."""

    @staticmethod
    def pooled(settings):
        update = {"database_pooler": "transaction", "database_listen_url": settings.database_url}
        return settings.model_copy(update={**update, "database_pool_size": 1})

    @staticmethod
    async def names_left(settings) -> list[str]:
        """The prepared statements left on the one connection after reads by both paths."""
        from sqlalchemy import text

        from app.db import create_engine, create_sessionmaker, fetch_row, reading

        engine = create_engine(settings.model_copy(update={"database_pool_size": 1}))
        try:
            async with reading(create_sessionmaker(engine)) as session:
                query = text("SELECT CAST(:x AS int)")
                assert (await session.execute(query, {"x": 2})).scalar() == 2
            assert await fetch_row(engine, "SELECT $1::int", [3]) == (3,)
            async with engine.connect() as connection:
                names = text("SELECT name FROM pg_prepared_statements")
                return list((await connection.execute(names)).scalars())
        finally:
            await engine.dispose()

    async def test_no_statement_is_named(self, settings, database_url):
        if not database_url.startswith("postgresql"):
            pytest.skip("prepared statements: PostgreSQL")
        assert await self.names_left(settings)  # named by default: the check can fail
        assert await self.names_left(self.pooled(settings)) == []

    async def test_the_driver_keeps_the_recent_statements_only(self, settings, database_url):
        if not database_url.startswith("postgresql"):
            pytest.skip("asyncpg: PostgreSQL")
        from app.db import UNNAMED, UnnamedStatements, create_engine, fetch_row

        engine = create_engine(self.pooled(settings))
        try:
            for k in range(UnnamedStatements.RECENT + 5):
                assert await fetch_row(engine, f"SELECT $1::int + {k}", [k]) == (2 * k,)
            async with engine.connect() as connection:
                kept = (await connection.get_raw_connection()).info[UNNAMED]
        finally:
            await engine.dispose()
        assert len(kept) == UnnamedStatements.RECENT


class TestSerializedSession:
    """GraphQL resolves sibling fields concurrently on one session: its statements take turns."""

    async def test_concurrent_statements_take_turns(self, sessions, session):
        import asyncio

        from sqlalchemy import func, select, text

        from app.db import fetch_all
        from app.models import Student
        from tests.factories import make_student

        await make_student(session, netid="f000ser")
        await session.commit()
        async with sessions() as shared:
            answers = await asyncio.wait_for(  # a statement waiting on its own turn never ends
                asyncio.gather(
                    *(shared.execute(text("SELECT 1")) for _ in range(5)),
                    *(shared.scalar(select(func.count()).select_from(Student)) for _ in range(5)),
                    *(fetch_all(shared, select(Student.netid)) for _ in range(5)),
                    shared.get(Student, "f000ser"),
                    *(shared.scalars(select(Student.netid)) for _ in range(2)),
                ),
                timeout=30,
            )
        assert [a.scalar_one() for a in answers[:5]] == [1] * 5
        assert answers[5:10] == [1] * 5
        assert all([r.netid for r in rows] == ["f000ser"] for rows in answers[10:15])
        assert answers[15].netid == "f000ser"
        assert [list(found) for found in answers[16:]] == [["f000ser"]] * 2

    async def test_a_plain_session_refuses_the_same(self, engine):
        import asyncio

        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import AsyncSession

        plain = AsyncSession(engine)
        outcomes = await asyncio.gather(
            *(plain.execute(text("SELECT 1")) for _ in range(5)), return_exceptions=True
        )
        await plain.close()
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert refused and "concurrent operations are not permitted" in str(refused[0])
