"""Term reads, called directly: a student's terms joined with their reference rows, the SIS
calendar (filtered, and the term current at an instant), and offset filters as term-id filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain import terms as calendar
from app.domain.filters import Condition
from app.errors import Invalid
from app.repositories.terms import SisTermRepository, TermRepository, offset_conditions
from tests.factories import make_student, make_term

WINTER_2018 = calendar.quarterly_term("201801")
CALENDAR_SIZE = 51 * 4  # 1990 to 2040, four terms a year (the seeded reference data)


@pytest.fixture
async def terms(session) -> TermRepository:
    await make_student(session, netid="f00000b")
    await make_student(session, netid="f00000a")
    await make_term(session, "f00000b", "201809")
    await make_term(session, "f00000b", "201801")
    await make_term(session, "f00000b", "201801", term_id="201801-1", term_description_id="1")
    await make_term(session, "f00000a", "202001", lms_term_id=None, term_description_id=None)
    await session.commit()
    return TermRepository(session)


@pytest.fixture
def sis(session) -> SisTermRepository:
    return SisTermRepository(session)


class TestTermRepository:
    async def test_ordered_by_netid_quarterly_term_then_term_id(self, terms):
        rows = await terms.by_netids(["f00000b", "f00000a"])
        assert [(r.netid, r.term_id) for r in rows] == [
            ("f00000a", "202001-U"),
            ("f00000b", "201801-1"),
            ("f00000b", "201801-U"),
            ("f00000b", "201809-U"),
        ]

    async def test_joins_the_reference_rows(self, terms):
        row = (await terms.by_netids(["f00000b"]))[1]
        assert (row.term_id, row.school_id) == ("201801-U", "UG")
        assert (row.start_date, row.end_date) == (WINTER_2018.start_date, WINTER_2018.end_date)
        assert (row.lms_term_id, row.lms_term_name) == ("WI18", "Winter Term 2018 (A&S)")
        assert row.lms_is_course_send_enabled is False
        assert row.lms_is_enroll_send_enabled is False
        assert (row.quarterly_term_id, row.quarterly_term_name) == ("201801", "Winter Term 2018")
        assert row.quarterly_term_start_date == WINTER_2018.start_date
        assert row.quarterly_term_end_date == WINTER_2018.end_date
        assert (row.term_description_id, row.term_description_name) == (
            "U",
            "Undergraduate full term",
        )

    async def test_a_term_without_optional_references_is_still_read(self, terms):
        (row,) = await terms.by_netids(["f00000a"])
        assert row.lms_term_id is None and row.lms_term_name is None
        assert row.term_description_id is None and row.term_description_name is None
        assert row.quarterly_term_name == "Winter Term 2020"

    async def test_unknown_netids_and_none(self, terms):
        assert await terms.by_netids(["f999999"]) == []
        assert await terms.by_netids([]) == []


class TestSisTermCurrent:
    async def test_the_term_whose_range_holds_now(self, sis):
        row = await sis.current(datetime(2018, 1, 10, tzinfo=UTC))
        assert (row.id, row.start_date, row.end_date) == (
            "201801",
            WINTER_2018.start_date,
            WINTER_2018.end_date,
        )

    async def test_a_term_starts_at_its_start_and_ends_before_its_end(self, sis):
        assert (await sis.current(WINTER_2018.start_date)).id == "201801"
        assert (await sis.current(WINTER_2018.end_date)).id == "201803"
        before = WINTER_2018.start_date - timedelta(microseconds=1)
        assert (await sis.current(before)).id == "201709"

    async def test_an_instant_in_another_zone_is_the_same_instant(self, sis):
        eastern = timezone(timedelta(hours=-5))
        # 2018-03-14T23:30-05:00 is 2018-03-15T04:30Z: Spring (Winter ended at 04:00Z).
        assert (await sis.current(datetime(2018, 3, 14, 23, 30, tzinfo=eastern))).id == "201803"

    async def test_none_outside_the_calendar(self, sis):
        assert await sis.current(datetime(1980, 1, 1, tzinfo=UTC)) is None


class TestSisTermAll:
    async def test_every_term_in_id_order(self, sis):
        rows = await sis.all()
        assert len(rows) == CALENDAR_SIZE
        assert [r.id for r in rows] == sorted(r.id for r in rows)
        assert (rows[0].id, rows[0].name) == ("199001", "Winter Term 1990")

    async def test_by_year(self, sis):
        rows = await sis.all([Condition("year", "eq", "2018")])
        assert [r.id for r in rows] == ["201801", "201803", "201806", "201809"]
        both = await sis.all([Condition("year", "in", [2018, 2019])])
        assert len(both) == 8
        last = await sis.all([Condition("year", "gt", 2039)])
        assert [r.id for r in last] == ["204001", "204003", "204006", "204009"]

    async def test_by_id(self, sis):
        assert [r.id for r in await sis.all([Condition("id", "prefix", "20180")])] == [
            "201801",
            "201803",
            "201806",
            "201809",
        ]
        assert [r.id for r in await sis.all([Condition("id", "gte", "204009")])] == ["204009"]

    async def test_bad_filters(self, sis):
        with pytest.raises(Invalid) as caught:
            await sis.all([Condition("year", "prefix", "20"), Condition("year", "eq", "soon")])
        assert [p.loc for p in caught.value.problems] == ["year", "year"]
        assert len(await sis.all([Condition("unknown", "eq", "1")])) == CALENDAR_SIZE


class TestOffsetConditions:
    def test_offsets_become_term_ids(self):
        conditions = [
            Condition("current_term_offset", "gte", -1),
            Condition("current_term_offset", "lte", "2"),
            Condition("current_term_offset", "in", [0, 4]),
        ]
        assert offset_conditions(conditions, "current_term_offset", "id", "201801") == [
            Condition("id", "gte", "201709"),
            Condition("id", "lte", "201806"),
            Condition("id", "in", ["201801", "201901"]),
        ]

    def test_other_fields_pass_through(self):
        other = Condition("year", "eq", 2018)
        assert offset_conditions([other], "current_term_offset", "id", "201801") == [other]

    def test_with_no_current_term_an_offset_matches_nothing(self):
        cond = Condition("current_term_offset", "eq", 0)
        assert offset_conditions([cond], "current_term_offset", "id", None) == [
            Condition("id", "in", [])
        ]

    def test_a_prefix_or_a_non_number_is_invalid(self):
        for cond in (
            Condition("current_term_offset", "prefix", "1"),
            Condition("current_term_offset", "eq", "one"),
            Condition("current_term_offset", "in", [1, "x"]),
        ):
            with pytest.raises(Invalid) as caught:
                offset_conditions([cond], "current_term_offset", "id", "201801")
            assert [p.loc for p in caught.value.problems] == ["current_term_offset"]

    async def test_the_rewritten_conditions_filter_the_calendar(self, sis):
        near = [Condition("offset", "gte", -1), Condition("offset", "lte", 1)]
        rows = await sis.all(offset_conditions(near, "offset", "id", "201801"))
        assert [r.id for r in rows] == ["201709", "201801", "201803"]
        assert await sis.all(offset_conditions(near, "offset", "id", None)) == []
