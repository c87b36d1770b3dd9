"""The portal's filter convention on the compat collections: attr=value ANDed, dotted paths,
inclusive `=<` / `=>` ranges, trailing `*` prefixes, `?netid=` on plans, unknown attributes
ignored and named back, and nothing a client sends reaching SQL but as a bound parameter."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AcademicPlan, Student
from app.rest import examples
from tests.factories import make_plan, make_student, make_term
from tests.rest.seed_data import load_plans, load_terms


@pytest.fixture
async def seeded(session):
    await load_terms(session, examples.TERMS_SAMPLE)
    await make_term(session, "f000abc", "201906", id="0" * 23 + "1", term_id="201906-U")
    await load_plans(session, examples.PLANS_SAMPLE)
    await make_student(session, netid="f000xyz")
    await make_plan(session, "f000xyz", id=30001, name="GOVT-MINOR", type="Minor")
    await session.commit()


async def ids(client, auth, path: str) -> list[str]:
    response = await client.get(path, headers=auth())
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()]


class TestPlanFilters:
    async def test_netid_maps_to_student_netid(self, client, auth, seeded):
        assert await ids(client, auth, "/api/academic/plans?netid=f000xyz") == ["30001"]
        assert await ids(client, auth, "/api/academic/plans?student_netid=f000xyz") == ["30001"]

    async def test_pairs_are_anded(self, client, auth, seeded):
        path = "/api/academic/plans?netid=f0027k4&type=Major&department=GOVT"
        assert await ids(client, auth, path) == ["20109"]

    async def test_ranges_are_inclusive(self, client, auth, seeded):
        assert await ids(client, auth, "/api/academic/plans?id==>20110&id==<20111") == [
            "20110",
            "20111",
        ]
        # The single-`=` spelling (`?id=<20110`) means the same.
        assert await ids(client, auth, "/api/academic/plans?id=<20110") == ["20109", "20110"]

    async def test_timestamp_range(self, client, auth, seeded):
        path = "/api/academic/plans?netid=f0027k4&updated_at==>2021-04-23T16:12:20Z"
        assert await ids(client, auth, path) == ["22191"]

    async def test_trailing_star_is_a_prefix(self, client, auth, seeded):
        assert await ids(client, auth, "/api/academic/plans?name=GOVT-*") == ["20109", "30001"]

    async def test_flags_filter_as_y_n(self, client, auth, seeded):
        assert len(await ids(client, auth, "/api/academic/plans?dropped=N")) == 5
        assert await ids(client, auth, "/api/academic/plans?dropped=Y") == []

    async def test_unknown_attributes_are_ignored_and_named(self, client, auth, seeded):
        response = await client.get(
            "/api/academic/plans?netid=f000xyz&colour=blue&shape=round", headers=auth()
        )

        assert [p["id"] for p in response.json()] == ["30001"]
        assert response.headers["x-ignored-filters"] == "colour, shape"

    async def test_known_filters_send_no_ignored_header(self, client, auth, seeded):
        response = await client.get("/api/academic/plans?netid=f000xyz", headers=auth())
        assert "x-ignored-filters" not in response.headers

    async def test_bad_value_is_a_clear_422(self, client, auth, seeded):
        response = await client.get("/api/academic/plans?parent_id=abc", headers=auth())

        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "BAD_USER_INPUT"
        assert [p["loc"] for p in body["problems"]] == ["parent_id"]

    async def test_student_plans_take_filters(self, client, auth, seeded):
        path = "/api/students/f0027k4/plans?parent_id=20111"
        assert await ids(client, auth, path) == ["20109", "20110"]


class TestTermFilters:
    async def test_dotted_offset(self, client, auth, seeded):
        path = "/api/students/f000abc/terms?quarterly_term.current_term_offset=0"
        response = await client.get(path, headers=auth())

        (term,) = response.json()
        assert term["term_id"] == "201906-U"
        assert term["is_active"] is True
        assert term["quarterly_term"]["current_term_offset"] == 0

    async def test_offset_range(self, client, auth, seeded):
        path = "/api/students/f000abc/terms?quarterly_term.current_term_offset==<-2"
        response = await client.get(path, headers=auth())
        assert [t["term_id"] for t in response.json()] == ["201801-U", "201901-U"]

    async def test_dotted_lms_term(self, client, auth, seeded):
        path = "/api/students/f000abc/terms?lms_term.id=WI18"
        assert await ids(client, auth, path) == ["5d72b52ddeaaa38d5c98b5cf"]

    async def test_prefix_on_term_id(self, client, auth, seeded):
        path = "/api/students/f000abc/terms?term_id=2019*"
        assert await ids(client, auth, path) == ["5d72b5a6deaaa38d5c9bb429", "0" * 23 + "1"]

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("Y", ["201906-U"]),
            ("true", ["201906-U"]),
            ("N", ["201801-U", "201901-U"]),
            ("false", ["201801-U", "201901-U"]),
        ],
    )
    async def test_computed_is_active(self, client, auth, seeded, value, expected):
        response = await client.get(
            "/api/students/f000abc/terms", params={"is_active": value}, headers=auth()
        )

        assert [t["term_id"] for t in response.json()] == expected
        assert "x-ignored-filters" not in response.headers

    @pytest.mark.parametrize("value", ["maybe", "<Y", "Y*"])
    async def test_is_active_takes_y_or_n(self, client, auth, seeded, value):
        response = await client.get(
            "/api/students/f000abc/terms", params={"is_active": value}, headers=auth()
        )

        assert response.status_code == 422
        assert response.json()["problems"][0]["loc"] == "is_active"

    async def test_unknown_dotted_attribute_is_ignored(self, client, auth, seeded):
        response = await client.get(
            "/api/students/f000abc/terms?lms_term.colour=red", headers=auth()
        )
        assert len(response.json()) == 3
        assert response.headers["x-ignored-filters"] == "lms_term.colour"

    async def test_offsets_follow_the_clock(self, client, auth, seeded, clock):
        from datetime import UTC, datetime

        clock.set(datetime(2019, 10, 1, tzinfo=UTC))
        response = await client.get("/api/students/f000abc/terms", headers=auth())

        offsets = [t["quarterly_term"]["current_term_offset"] for t in response.json()]
        assert offsets == [-7, -3, -1]
        assert [t["is_active"] for t in response.json()] == [False, False, False]


INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE students; --",
    '" OR ""="',
    "1 UNION SELECT netid FROM students",
    "%",
    "_*",
    "%*",
    "\\*",
]


class TestNothingReachesSqlButAsParameters:
    @pytest.mark.parametrize("value", INJECTIONS)
    async def test_values(self, client, auth, seeded, session, sql_counter, value):
        for attr in ("netid", "name", "department", "type"):
            response = await client.get("/api/academic/plans", params={attr: value}, headers=auth())
            assert (response.status_code, response.json()) == (200, [])
        for attr in ("term_id", "lms_term.id", "quarterly_term.id"):
            response = await client.get(
                "/api/students/f000abc/terms", params={attr: value}, headers=auth()
            )
            assert (response.status_code, response.json()) == (200, [])
        needle = value.rstrip("*").replace("\\", "")
        if len(needle) > 2:
            assert not any(needle in s for s in sql_counter.statements)
        assert await session.scalar(select(func.count()).select_from(Student)) == 3
        assert await session.scalar(select(func.count()).select_from(AcademicPlan)) == 5

    async def test_attribute_names(self, client, auth, seeded, session, sql_counter):
        evil = "name = name OR 1=1; DROP TABLE academic_plans; --"
        response = await client.get(
            "/api/academic/plans", params={evil: "x", "netid": "f000xyz"}, headers=auth()
        )

        assert [p["id"] for p in response.json()] == ["30001"]
        assert not any("DROP" in s for s in sql_counter.statements)
        assert await session.scalar(select(func.count()).select_from(AcademicPlan)) == 5

    async def test_ignored_names_cannot_split_headers(self, client, auth, seeded):
        response = await client.get(
            "/api/academic/plans",
            params={"a\r\nSet-Cookie: x=1": "1", "é": "2"},
            headers=auth(),
        )

        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert response.headers["x-ignored-filters"] == "a%0D%0ASet-Cookie:%20x%3D1, %C3%A9"


class TestPlanIdPrefix:
    async def test_an_id_prefix_compares_digits_and_id_text_is_no_filter(
        self, client, session, auth
    ):
        await make_student(session, netid="f0027k4")
        for plan_id in (2010, 20109, 30109):
            await make_plan(session, "f0027k4", id=plan_id)
        await session.commit()
        prefixed = await client.get("/api/academic/plans?id=201*", headers=auth())
        assert [p["id"] for p in prefixed.json()] == ["2010", "20109"]
        internal = await client.get("/api/academic/plans?id_text=201*", headers=auth())
        assert len(internal.json()) == 3 and internal.headers["x-ignored-filters"] == "id_text"


async def test_a_bad_filter_on_an_unknown_student_is_a_404(client, auth):
    response = await client.get("/api/students/f000unk/terms?is_active=maybe", headers=auth())
    assert response.status_code == 404
