"""D-plan reads, called directly: a student's D-plans joined with their descriptions and SIS
term, and the D-plan value lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain import terms as calendar
from app.repositories.dplans import DplanRepository, ReferenceRepository
from tests.factories import make_dplan, make_student

WHEN = datetime(2023, 2, 20, 14, 34, 11, tzinfo=UTC)


@pytest.fixture
async def dplans(session) -> DplanRepository:
    await make_student(session, netid="f00000b")
    await make_student(session, netid="f00000a")
    await make_dplan(session, "f00000b", "201809", dplan_id="L", dplan_source_id="STU")
    await make_dplan(session, "f00000b", "201801", updated_at=WHEN)
    await make_dplan(session, "f00000a", "202301", dplan_id="X", dplan_source_id="OCP")
    await session.commit()
    return DplanRepository(session)


class TestDplanRepository:
    async def test_ordered_by_netid_then_term(self, dplans):
        rows = await dplans.by_netids(["f00000b", "f00000a"])
        assert [(r.netid, r.term_code, r.dplan_id) for r in rows] == [
            ("f00000a", "202301", "X"),
            ("f00000b", "201801", "R"),
            ("f00000b", "201809", "L"),
        ]

    async def test_joins_descriptions_and_the_term(self, dplans):
        row = (await dplans.by_netids(["f00000b"]))[0]
        assert (row.dplan_id, row.dplan_description) == ("R", "Resident")
        assert (row.dplan_source_id, row.dplan_source_description) == ("PHL", "Registrar Action")
        assert row.updated_at == WHEN and row.updated_at.tzinfo is not None
        winter = calendar.quarterly_term("201801")
        assert (row.term_name, row.term_start_date, row.term_end_date) == (
            "Winter Term 2018",
            winter.start_date,
            winter.end_date,
        )

    async def test_unknown_netids_and_none(self, dplans):
        assert await dplans.by_netids(["f999999"]) == []
        assert await dplans.by_netids([]) == []


class TestReferenceRepository:
    async def test_dplan_codes_in_id_order(self, session):
        rows = await ReferenceRepository(session).dplan_codes()
        assert [tuple(r) for r in rows] == [
            ("L", "Leave Term"),
            ("O", "Off-Campus Program"),
            ("R", "Resident"),
            ("W", "Withdrawn"),
            ("X", "Exchange Program"),
        ]

    async def test_dplan_sources_in_id_order(self, session):
        rows = await ReferenceRepository(session).dplan_sources()
        assert [tuple(r) for r in rows] == [
            ("DEA", "Dean's Office"),
            ("OCP", "Off-Campus Programs Office"),
            ("PHL", "Registrar Action"),
            ("STU", "Student Request"),
        ]
