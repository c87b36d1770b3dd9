"""Loading documents: references checked against the file and the database, idempotent upserts,
nothing written when anything is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction
from app.errors import Invalid
from app.models import AcademicPlan, Base, StudentDplan, StudentTerm
from app.services import importer
from tests.domain.test_load_format import DPLAN, PLAN, STUDENT, TERM, changed, document
from tests.factories import make_plan, make_student

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def dump_database(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: two dumps are equal iff the data is."""
    out = {}
    for table in Base.metadata.sorted_tables:
        stmt = select(table).order_by(*table.primary_key.columns)
        out[table.name] = [tuple(row) for row in await session.execute(stmt)]
    return out


async def load(
    sessions: async_sessionmaker[AsyncSession], raw: dict[str, Any], now: datetime = NOW
) -> dict[str, int]:
    document = importer.read_document(importer.orjson.dumps(raw))
    async with transaction(sessions) as session:
        return await importer.load(session, document, now=now)


async def problems_loading(sessions: async_sessionmaker[AsyncSession], raw: Any) -> list[str]:
    with pytest.raises(Invalid) as caught:
        await load(sessions, raw)
    return [f"{p.loc}: {p.message}" for p in caught.value.problems]


class TestLoad:
    async def test_loads_every_list(self, sessions, session):
        counts = await load(sessions, document())
        assert counts["students"] == counts["student_terms"] == counts["plans"] == 1
        term = await session.get(StudentTerm, TERM["id"])
        assert term is not None and term.lms_term_id == "WI18"
        plan = await session.get(AcademicPlan, 20111)
        assert plan is not None and plan.prerequisites == PLAN["prerequisites"]
        dplan = await session.get(StudentDplan, ("f000abc", "201801"))
        assert dplan is not None and dplan.updated_at == NOW

    async def test_loading_twice_changes_nothing(self, sessions, session):
        await load(sessions, document())
        first = await dump_database(session)
        await load(sessions, document(), now=datetime(2030, 1, 1, tzinfo=UTC))
        async with sessions() as fresh:
            assert await dump_database(fresh) == first

    async def test_a_changed_dplan_is_dated_now(self, sessions):
        await load(sessions, document())
        later = datetime(2027, 1, 1, tzinfo=UTC)
        await load(sessions, document(dplans=[changed(DPLAN, dplan_id="L")]), now=later)
        async with sessions() as fresh:
            dplan = await fresh.get(StudentDplan, ("f000abc", "201801"))
        assert dplan is not None and (dplan.dplan_id, dplan.updated_at) == ("L", later)

    async def test_a_dplan_dated_in_the_file_keeps_its_date(self, sessions):
        dated = changed(DPLAN, updated_at="2023-02-20T14:34:11Z")
        await load(sessions, document(dplans=[dated]))
        async with sessions() as fresh:
            dplan = await fresh.get(StudentDplan, ("f000abc", "201801"))
        assert dplan is not None
        assert dplan.updated_at == datetime(2023, 2, 20, 14, 34, 11, tzinfo=UTC)

    async def test_replaces_what_it_names_and_keeps_the_rest(self, sessions, session):
        await make_student(session, netid="f0000zz")
        await session.commit()
        student = changed(STUDENT, last_name="Renamed")
        await load(sessions, document(students=[student]))
        await load(sessions, document())
        async with sessions() as fresh:
            rows = (await dump_database(fresh))["students"]
        assert [r[0] for r in rows] == ["f0000zz", "f000abc"]
        assert rows[1][3] == "Abbott"

    async def test_a_parent_later_in_the_file(self, sessions):
        child = changed(PLAN, id="20109", type="Major", parent_id=20111)
        await load(sessions, document(plans=[child, PLAN]))
        async with sessions() as fresh:
            plan = await fresh.get(AcademicPlan, 20109)
        assert plan is not None and plan.parent_id == 20111

    async def test_references_to_rows_already_stored(self, sessions, session):
        await make_student(session, netid="f0000zz")
        await make_plan(session, "f0000zz", id=30000)
        await session.commit()
        plan = changed(PLAN, student_netid="f0000zz", parent_id=30000)
        await load(sessions, {"plans": [plan], "dplans": [changed(DPLAN, netid="f0000zz")]})
        async with sessions() as fresh:
            stored = await fresh.get(AcademicPlan, 20111)
        assert stored is not None and stored.parent_id == 30000


class TestMissingReferences:
    async def test_each_missing_reference_is_named(self, sessions):
        raw = document(
            student_terms=[changed(TERM, netid="nobody", quarterly_term={"id": "204109"})],
            plans=[changed(PLAN, parent_id=99)],
            dplans=[changed(DPLAN, dplan_id="Q", dplan_source_id="NOPE", term_code="198909")],
        )
        assert await problems_loading(sessions, raw) == [
            "student_terms[0].netid: student nobody does not exist",
            "student_terms[0].quarterly_term.id: SIS term 204109 does not exist",
            "plans[0].parent_id: plan 99 does not exist",
            "dplans[0].term_code: SIS term 198909 does not exist",
            "dplans[0].dplan_id: D-plan code Q does not exist",
            "dplans[0].dplan_source_id: D-plan source NOPE does not exist",
        ]

    async def test_a_term_defined_in_the_file_exists(self, sessions):
        term = {
            "id": "204109",
            "name": "Fall Term 2041",
            "start_date": "2041-09-15T04:00:00Z",
            "end_date": "2041-12-16T05:00:00Z",
        }
        raw = document(sis_terms=[term], dplans=[changed(DPLAN, term_code="204109")])
        counts = await load(sessions, raw)
        assert counts["sis_terms"] == 1

    async def test_nothing_is_written(self, sessions, session):
        await load(sessions, document())
        before = await dump_database(session)
        raw = document(
            students=[changed(STUDENT, last_name="Changed")],
            plans=[PLAN, changed(PLAN, id="20112", student_netid="nobody")],
        )
        problems = await problems_loading(sessions, raw)
        assert problems == ["plans[1].student_netid: student nobody does not exist"]
        async with sessions() as fresh:
            assert await dump_database(fresh) == before


class TestDecode:
    def test_malformed_json(self):
        with pytest.raises(Invalid) as caught:
            importer.read_document(b'{"plans": [}')
        [problem] = caught.value.problems
        assert problem.message.startswith("not valid JSON")
        assert "line 1" in problem.message

    def test_not_a_document(self):
        with pytest.raises(Invalid, match="does not follow the load format"):
            importer.read_document(b"[1, 2]")
