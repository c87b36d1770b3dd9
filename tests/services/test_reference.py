"""The current term is remembered per database while `now` stays inside its range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, update

from app.models import SisTerm
from app.services import reference as reference_service

JULY = datetime(2019, 7, 1, tzinfo=UTC)


class TestCurrentTerm:
    async def test_remembered_inside_its_range_only(self, engine, session):
        statements: list[str] = []
        event.listen(
            engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        reference_service.forget_current_term()
        assert await reference_service.current_term_id(session, JULY) == "201906"
        assert await reference_service.current_term_id(session, JULY + timedelta(days=7)) == (
            "201906"
        )
        assert len(statements) == 1
        assert await reference_service.current_term_id(session, JULY + timedelta(days=90)) == (
            "201909"
        )
        assert len(statements) == 2

    async def test_a_replaced_calendar_is_read_again_once_forgotten(self, session):
        reference_service.forget_current_term()
        assert await reference_service.current_term_id(session, JULY) == "201906"
        await session.execute(
            update(SisTerm)
            .where(SisTerm.id == "201906")
            .values(end_date=datetime(2019, 6, 20, tzinfo=UTC))
        )
        await session.execute(
            update(SisTerm)
            .where(SisTerm.id == "201909")
            .values(start_date=datetime(2019, 6, 20, tzinfo=UTC))
        )
        reference_service.forget_current_term()
        assert await reference_service.current_term_id(session, JULY) == "201909"

    async def test_outside_the_calendar(self, session):
        reference_service.forget_current_term()
        assert (
            await reference_service.current_term_id(session, datetime(2200, 1, 1, tzinfo=UTC))
            is None
        )
