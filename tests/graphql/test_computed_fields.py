"""currentTermOffset and isActive come from a clock the tests set; nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain import terms as calendar
from tests.factories import make_student, make_term
from tests.graphql_client import gql_data

QUERY = """{ student(netid: "f000abc") { terms { termId isActive
             quarterlyTerm { id currentTermOffset } } } }"""


async def _terms(client, auth):
    data = await gql_data(client, QUERY, auth())
    return {t["quarterlyTerm"]["id"]: t for t in data["student"]["terms"]}


class TestComputedFields:
    async def test_seed_sample_offsets(self, client, session, auth):
        await make_student(session, netid="f000abc")
        await make_term(session, "f000abc", "201801")
        await make_term(session, "f000abc", "201901")
        await session.commit()
        terms = await _terms(client, auth)
        assert terms["201801"]["quarterlyTerm"]["currentTermOffset"] == -6
        assert terms["201901"]["quarterlyTerm"]["currentTermOffset"] == -2
        assert not any(t["isActive"] for t in terms.values())

    async def test_walk_the_clock_across_term_boundaries(self, client, session, auth, clock):
        await make_student(session, netid="f000abc")
        for term in ("201809", "201901", "201903"):
            await make_term(session, "f000abc", term)
        await session.commit()
        winter = calendar.quarterly_term("201901")
        steps = [
            (winter.start_date - timedelta(seconds=1), "201809", {"201809": 0, "201901": 1}),
            (winter.start_date, "201901", {"201809": -1, "201901": 0, "201903": 1}),
            (winter.end_date - timedelta(seconds=1), "201901", {"201901": 0}),
            (winter.end_date, "201903", {"201901": -1, "201903": 0}),
        ]
        for when, active, offsets in steps:
            clock.set(when)
            terms = await _terms(client, auth)
            assert [k for k, t in terms.items() if t["isActive"]] == [active], when
            for term_id, expected in offsets.items():
                assert terms[term_id]["quarterlyTerm"]["currentTermOffset"] == expected, when

    async def test_outside_the_calendar_no_term_is_current(self, client, session, auth, clock):
        await make_student(session, netid="f000abc")
        await make_term(session, "f000abc", "201801")
        await session.commit()
        clock.set(datetime(2100, 1, 1, tzinfo=UTC))
        terms = await _terms(client, auth)
        assert terms["201801"]["quarterlyTerm"]["currentTermOffset"] is None
        assert terms["201801"]["isActive"] is False

    async def test_sis_terms_filter_by_offset_and_year(self, client, auth):
        data = await gql_data(
            client,
            "{ sisTerms(filter: {currentTermOffset: {gte: -2, lte: 1}}) { id currentTermOffset } }",
            auth(),
        )
        assert data["sisTerms"] == [
            {"id": "201901", "currentTermOffset": -2},
            {"id": "201903", "currentTermOffset": -1},
            {"id": "201906", "currentTermOffset": 0},
            {"id": "201909", "currentTermOffset": 1},
        ]
        data = await gql_data(client, "{ sisTerms(filter: {year: {eq: 2020}}) { id } }", auth())
        assert [t["id"] for t in data["sisTerms"]] == ["202001", "202003", "202006", "202009"]

    async def test_reference_lists(self, client, auth):
        data = await gql_data(
            client, "{ dplanCodes { id description } dplanSources { id } }", auth()
        )
        assert {"id": "R", "description": "Resident"} in data["dplanCodes"]
        assert {"id": "PHL"} in data["dplanSources"]
