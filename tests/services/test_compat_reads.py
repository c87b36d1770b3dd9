"""The DartAPI compat reads: JSON bytes built by the database; NotFound for a hidden student exactly
as for an unknown one; Forbidden without the read scope; a found set kept only past one page."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select, update

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, Principal
from app.domain.filters import Condition
from app.domain.found_sets import unpack
from app.errors import BadRequest, Forbidden, Invalid, NotFound
from app.models import FoundSet, Student
from app.services import compat_reads
from app.services.compat_reads import Collection
from tests.factories import make_dplan, make_plan, make_student, make_term

NOW = datetime(2019, 7, 1, 12, 0, tzinfo=UTC)
TTL = 3600
READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ}))
PRIVATE_READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ, PEOPLE_PRIVATE}))
WRITER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_WRITE, PEOPLE_PRIVATE}))
PLANS = Collection("plans")


@pytest.fixture
async def world(session):
    """f000abc (plans 100..104, three terms, a D-plan), f000xyz (plans 105, 106), and the
    FERPA-protected f000hid (plans 107, 108)."""
    await make_student(session, netid="f000abc", first_name="Ada", last_name="Lovelace")
    await make_student(session, netid="f000xyz")
    await make_student(session, netid="f000hid", ferpa_protected=True)
    for plan_id, netid in [*((100 + i, "f000abc") for i in range(5)), (105, "f000xyz")]:
        await make_plan(session, netid, id=plan_id)
    await make_plan(session, "f000xyz", id=106)
    await make_plan(session, "f000hid", id=107)
    await make_plan(session, "f000hid", id=108)
    for term in ("201801", "201901", "201906"):
        await make_term(session, "f000abc", term)
    await make_dplan(session, "f000abc", "201906")
    await session.commit()


async def first_page(engine, sessions, collection=PLANS, conditions=(), principal=READER, size=3):
    return await compat_reads.first_page(
        engine,
        sessions,
        principal,
        collection,
        list(conditions),
        pagesize=size,
        set_id="req-1",
        now=NOW,
        ttl_seconds=TTL,
        max_bytes=4096,
    )


async def later_page(engine, sessions, page, collection=PLANS, conditions=(), size=3):
    return await compat_reads.later_page(
        engine,
        sessions,
        READER,
        collection,
        list(conditions),
        set_id="req-1",
        page=page,
        pagesize=size,
        now=NOW,
        ttl_seconds=TTL,
    )


def ids(body: bytes) -> list[int]:
    return [int(item["id"]) for item in orjson.loads(body)]


async def kept_sets(sessions) -> list[tuple[str, str, list]]:
    async with sessions() as session:
        rows = await session.execute(select(FoundSet.id, FoundSet.resource, FoundSet.packed))
        return [(i, resource, unpack(packed)) for i, resource, packed in rows]


async def hide(session, netid: str) -> None:
    """Make a student FERPA-protected (after a found set was kept)."""
    await session.execute(
        update(Student).where(Student.netid == netid).values(ferpa_protected=True)
    )
    await session.commit()


class TestStudent:
    async def test_json_of_the_student(self, engine, world):
        body = await compat_reads.student(engine, READER, "f000abc", NOW)

        assert isinstance(body, bytes)
        student = orjson.loads(body)
        assert list(student) == [
            *("netid", "first_name", "middle_name", "last_name", "name", "class_year"),
            *("school_code", "ferpa_protected", "dplans"),
        ]
        assert (student["name"], student["middle_name"]) == ("Ada Lovelace", None)
        assert student["dplans"] == [
            {
                "dplan_description": "Resident",
                "dplan_source_id": "PHL",
                "dplan_id": "R",
                "dplan_source_description": "Registrar Action",
                "term_code": "201906",
            }
        ]

    async def test_hidden_is_not_found_like_unknown(self, engine, world):
        for netid in ("f000hid", "f000unk"):
            with pytest.raises(NotFound, match=f"no student with netid '{netid}'"):
                await compat_reads.student(engine, READER, netid, NOW)

    async def test_people_private_sees_the_hidden_student(self, engine, world):
        body = await compat_reads.student(engine, PRIVATE_READER, "f000hid", NOW)

        assert orjson.loads(body)["ferpa_protected"] is True

    @pytest.mark.parametrize("netid", ["f000abc", "f000unk"])
    async def test_forbidden_without_the_read_scope(self, engine, world, netid):
        with pytest.raises(Forbidden):
            await compat_reads.student(engine, WRITER, netid, NOW)


class TestPlan:
    async def test_json_of_the_plan(self, engine, world):
        plan = orjson.loads(await compat_reads.plan(engine, READER, "105", NOW))

        assert (plan["id"], plan["student_netid"], plan["parent_id"]) == ("105", "f000xyz", None)
        assert (plan["updated"], plan["dropped"]) == ("N", "N")
        assert plan["updated_at"] == "2021-01-29T23:07:02Z"

    @pytest.mark.parametrize("plan_id", ["107", "999", "abc", "-1", "9" * 19])
    async def test_hidden_unknown_or_malformed_is_not_found(self, engine, world, plan_id):
        with pytest.raises(NotFound, match=f"no academic plan with id '{plan_id}'"):
            await compat_reads.plan(engine, READER, plan_id, NOW)

    async def test_people_private_sees_the_hidden_students_plan(self, engine, world):
        plan = orjson.loads(await compat_reads.plan(engine, PRIVATE_READER, "107", NOW))

        assert plan["student_netid"] == "f000hid"

    @pytest.mark.parametrize("plan_id", ["105", "abc"])
    async def test_forbidden_without_the_read_scope(self, engine, world, plan_id):
        with pytest.raises(Forbidden):
            await compat_reads.plan(engine, WRITER, plan_id, NOW)


class TestFirstPage:
    async def test_past_one_page_the_set_is_kept(self, engine, sessions, world):
        page = await first_page(engine, sessions)

        assert ids(page.body) == [100, 101, 102]
        assert (page.total, page.page, page.pagesize, page.set_id) == (7, 1, 3, "req-1")
        assert page.has_next and page.ignored == []
        assert await kept_sets(sessions) == [("req-1", "academic/plans", list(range(100, 107)))]

    @pytest.mark.parametrize("size", [7, 100])
    async def test_one_page_is_not_kept(self, engine, sessions, world, size):
        page = await first_page(engine, sessions, size=size)

        assert ids(page.body) == list(range(100, 107))
        assert (page.total, page.set_id, page.has_next) == (7, None, False)
        assert await kept_sets(sessions) == []

    async def test_people_private_sees_the_hidden_students_plans(self, engine, sessions, world):
        page = await first_page(engine, sessions, principal=PRIVATE_READER, size=10)

        assert ids(page.body) == list(range(100, 109))

    async def test_a_students_plans_filtered(self, engine, sessions, world):
        collection = Collection("student_plans", "f000abc")
        page = await first_page(engine, sessions, collection, [Condition("id", "gte", 103)])

        assert (ids(page.body), page.total, page.set_id) == ([103, 104], 2, None)

    async def test_terms_with_computed_fields(self, engine, sessions, world):
        collection = Collection("terms", "f000abc")
        page = await first_page(engine, sessions, collection, size=2)

        terms = orjson.loads(page.body)
        assert [(t["term_id"], t["is_active"]) for t in terms] == [
            ("201801-U", False),
            ("201901-U", False),
        ]
        assert [t["quarterly_term"]["current_term_offset"] for t in terms] == [-6, -2]
        [(_, resource, keys)] = await kept_sets(sessions)
        assert resource == "students/f000abc/terms" and len(keys) == 3

    async def test_unknown_filters_are_named_back(self, engine, sessions, world):
        conditions = [Condition("colour", "eq", "red"), Condition("department", "eq", "ECON")]
        page = await first_page(engine, sessions, PLANS, conditions, size=10)

        assert page.ignored == ["colour"]
        assert page.total == 7

    @pytest.mark.parametrize("kind", ["terms", "student_plans"])
    @pytest.mark.parametrize("netid", ["f000hid", "f000unk"])
    async def test_a_hidden_student_is_not_found_like_unknown(
        self, engine, sessions, world, kind, netid
    ):
        with pytest.raises(NotFound, match=f"no student with netid '{netid}'"):
            await first_page(engine, sessions, Collection(kind, netid))

    async def test_not_found_whatever_the_filter_values(self, engine, sessions, world):
        bad = [Condition("id", "eq", "abc")]
        with pytest.raises(NotFound):
            await first_page(engine, sessions, Collection("student_plans", "f000hid"), bad)
        with pytest.raises(Invalid) as caught:
            await first_page(engine, sessions, Collection("student_plans", "f000abc"), bad)
        assert [p.loc for p in caught.value.problems] == ["id"]

    @pytest.mark.parametrize(
        "collection", [PLANS, Collection("terms", "f000abc"), Collection("student_plans", "x")]
    )
    async def test_forbidden_without_the_read_scope(self, engine, sessions, world, collection):
        with pytest.raises(Forbidden):
            await first_page(engine, sessions, collection, principal=WRITER)
        assert await kept_sets(sessions) == []


class TestLaterPage:
    async def test_pages_of_the_kept_set(self, engine, sessions, world):
        await first_page(engine, sessions)

        second = await later_page(engine, sessions, 2)
        third = await later_page(engine, sessions, 3)
        past = await later_page(engine, sessions, 4)

        assert [ids(p.body) for p in (second, third, past)] == [[103, 104, 105], [106], []]
        assert [(p.page, p.total, p.set_id) for p in (second, third)] == [
            (2, 7, "req-1"),
            (3, 7, "req-1"),
        ]
        assert (second.has_next, third.has_next) == (True, False)

    async def test_later_writes_do_not_change_the_set(self, engine, sessions, session, world):
        await first_page(engine, sessions)
        await make_plan(session, "f000abc", id=150)
        await session.commit()

        assert ids((await later_page(engine, sessions, 3)).body) == [106]

    async def test_a_student_hidden_since_drops_out(self, engine, sessions, session, world):
        await first_page(engine, sessions)
        await hide(session, "f000abc")

        page = await later_page(engine, sessions, 2)

        assert (ids(page.body), page.total) == ([105], 7)

    async def test_a_students_collection_hidden_since_is_not_found(
        self, engine, sessions, session, world
    ):
        await first_page(engine, sessions, Collection("student_plans", "f000abc"), size=2)
        await hide(session, "f000abc")

        with pytest.raises(NotFound, match="no student with netid 'f000abc'"):
            await later_page(engine, sessions, 2, Collection("student_plans", "f000abc"), size=2)

    async def test_filters_sent_with_a_later_page_are_ignored(self, engine, sessions, world):
        await first_page(engine, sessions)

        page = await later_page(engine, sessions, 2, conditions=[Condition("id", "eq", 999)])

        assert (ids(page.body), page.ignored) == ([103, 104, 105], ["id"])

    async def test_a_key_for_another_route_is_a_bad_request(self, engine, sessions, world):
        await first_page(engine, sessions)

        with pytest.raises(BadRequest):
            await later_page(engine, sessions, 2, Collection("student_plans", "f000abc"))

    async def test_a_set_never_kept_is_a_bad_request(self, engine, sessions, world):
        await first_page(engine, sessions, size=10)

        with pytest.raises(BadRequest):
            await later_page(engine, sessions, 2)
