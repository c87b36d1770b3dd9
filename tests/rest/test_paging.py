"""Paging through found sets: pagesize (default 100, max 1000, clamped and said), the first
response's X-Request-ID as continuation_key, later pages of the same set unchanged by writes,
12 hours, and a set bound to the caller, its scopes and its route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from app.domain.found_sets import unpack
from app.models import AcademicPlan, FoundSet
from tests.factories import make_plan, make_student, make_term

PLANS = "/api/academic/plans"


@pytest.fixture
async def plans(session):
    """Plans 100..106 of a visible student, 107..108 of a FERPA-protected one."""
    await make_student(session, netid="f000abc")
    await make_student(session, netid="f000hid", ferpa_protected=True)
    for i in range(7):
        await make_plan(session, "f000abc", id=100 + i)
    for i in range(7, 9):
        await make_plan(session, "f000hid", id=100 + i)
    await session.commit()


def page_ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(p["id"]) for p in response.json()]


async def first_page(client, headers, path: str = PLANS, pagesize: int = 3):
    response = await client.get(path, params={"pagesize": pagesize}, headers=headers)
    return response, response.headers["x-request-id"]


async def page(client, headers, key: str, n: int, path: str = PLANS, pagesize: int = 3):
    params = {"continuation_key": key, "page": n, "pagesize": pagesize}
    return await client.get(path, params=params, headers=headers)


class TestPages:
    async def test_pages_through_the_found_set(self, client, auth, plans):
        headers = auth(STUDENTS_READ)
        first, key = await first_page(client, headers)

        assert page_ids(first) == [100, 101, 102]
        assert first.headers["x-total-count"] == "7"
        assert first.headers["link"] == (
            f'</api/academic/plans?continuation_key={key}&page=2&pagesize=3>; rel="next"'
        )
        assert page_ids(await page(client, headers, key, 2)) == [103, 104, 105]
        last = await page(client, headers, key, 3)
        assert page_ids(last) == [106]
        assert "link" not in last.headers
        assert page_ids(await page(client, headers, key, 4)) == []
        assert page_ids(await page(client, headers, key, 1)) == [100, 101, 102]

    async def test_following_link_headers_visits_every_row_once(self, client, auth, plans):
        headers = auth(STUDENTS_READ)
        response, _ = await first_page(client, headers, pagesize=2)
        seen = page_ids(response)
        while "link" in response.headers:
            target = response.headers["link"].split(">")[0].lstrip("<")
            response = await client.get(target, headers=headers)
            seen += page_ids(response)
        assert seen == list(range(100, 107))

    async def test_default_pagesize_is_100(self, client, auth, session, plans):
        for i in range(100):
            await make_plan(session, "f000abc", id=1000 + i)
        await session.commit()

        response = await client.get(PLANS, headers=auth(STUDENTS_READ))

        assert len(response.json()) == 100
        assert response.headers["x-total-count"] == "107"
        assert "link" in response.headers

    async def test_pagesize_over_1000_is_clamped_and_said(self, client, auth, plans):
        response = await client.get(PLANS, params={"pagesize": 5000}, headers=auth())

        assert response.status_code == 200
        assert response.headers["x-pagesize-clamped"] == "1000"

    @pytest.mark.parametrize("bad", ["0", "-1", "abc"])
    async def test_bad_pagesize_is_422(self, client, auth, plans, bad):
        response = await client.get(PLANS, params={"pagesize": bad}, headers=auth())

        assert response.status_code == 422
        assert response.json()["problems"][0]["loc"] == "query.pagesize"

    async def test_page_without_key_is_400(self, client, auth, plans):
        response = await client.get(PLANS, params={"page": 2}, headers=auth())

        assert response.status_code == 400
        assert response.json()["problems"][0]["loc"] == "page"

    async def test_one_page_sets_are_not_stored(self, client, auth, session, plans):
        response, key = await first_page(client, auth(STUDENTS_READ), pagesize=100)

        assert "link" not in response.headers
        assert (await session.execute(select(FoundSet.id))).first() is None
        assert (await page(client, auth(STUDENTS_READ), key, 2)).status_code == 400

    async def test_terms_page_too(self, client, auth, session, plans):
        for term in ("201801", "201803", "201806", "201809", "201901"):
            await make_term(session, "f000abc", term)
        await session.commit()
        path = "/api/students/f000abc/terms"

        first, key = await first_page(client, auth(), path=path, pagesize=2)
        second = await page(client, auth(), key, 2, path=path, pagesize=2)

        assert [t["term_id"] for t in first.json()] == ["201801-U", "201803-U"]
        assert [t["term_id"] for t in second.json()] == ["201806-U", "201809-U"]


class TestSameFoundSet:
    async def test_later_pages_ignore_writes_in_between(self, client, auth, session, plans):
        headers = auth(STUDENTS_READ)
        _, key = await first_page(client, headers)
        await make_plan(session, "f000abc", id=1)  # sorts first: would shift every page
        await session.execute(
            update(AcademicPlan).where(AcademicPlan.id == 104).values(department="NEW")
        )
        await session.commit()

        second = await page(client, headers, key, 2)

        assert page_ids(second) == [103, 104, 105]
        # Membership is kept; the rows themselves are read fresh.
        assert second.json()[1]["department"] == "NEW"

    async def test_filters_sent_with_a_later_page_are_ignored(self, client, auth, plans):
        headers = auth(STUDENTS_READ)
        _, key = await first_page(client, headers)
        response = await client.get(
            PLANS,
            params={"continuation_key": key, "page": 2, "pagesize": 3, "id": "100"},
            headers=headers,
        )

        assert page_ids(response) == [103, 104, 105]
        assert response.headers["x-ignored-filters"] == "id"

    async def test_hidden_students_never_enter_a_set(self, client, auth, session, plans):
        _, key = await first_page(client, auth(STUDENTS_READ))

        stored = (await session.execute(select(FoundSet.packed).where(FoundSet.id == key))).one()
        assert unpack(stored.packed) == list(range(100, 107))

    async def test_a_set_with_private_scope_shows_them(self, client, auth, plans):
        headers = auth(STUDENTS_READ, PEOPLE_PRIVATE)
        first, key = await first_page(client, headers, pagesize=5)

        assert first.headers["x-total-count"] == "9"
        assert page_ids(await page(client, headers, key, 2, pagesize=5)) == [105, 106, 107, 108]


class TestKeysThatDoNotOpen:
    async def _unknown(self, client, headers):
        return await page(client, headers, "0" * 32, 2)

    async def test_unknown_key_is_a_clear_400(self, client, auth, plans):
        response = await self._unknown(client, auth(STUDENTS_READ))

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "BAD_REQUEST"
        assert "unknown or has expired" in body["message"]
        assert body["problems"][0]["loc"] == "continuation_key"

    async def test_expired_after_12_hours(self, client, auth, clock, plans):
        headers = auth(STUDENTS_READ)
        _, key = await first_page(client, headers)
        start = clock.now()

        clock.set(start + timedelta(hours=12) - timedelta(seconds=1))
        assert (await page(client, headers, key, 2)).status_code == 200
        clock.set(start + timedelta(hours=12))
        expired = await page(client, headers, key, 2)

        assert expired.status_code == 400
        assert expired.content == (await self._unknown(client, headers)).content

    @pytest.mark.parametrize(
        "other",
        [
            {"sub": "f000eve", "scopes": (STUDENTS_READ,)},
            {"sub": "f003ghc", "scopes": (STUDENTS_READ, PEOPLE_PRIVATE)},
        ],
        ids=["another caller", "other scopes"],
    )
    async def test_someone_elses_key_is_unknown(self, client, auth, plans, other):
        _, key = await first_page(client, auth(STUDENTS_READ, sub="f003ghc"))
        headers = auth(*other["scopes"], sub=other["sub"])

        theirs = await page(client, headers, key, 2)
        unknown = await self._unknown(client, headers)

        assert (theirs.status_code, theirs.content) == (unknown.status_code, unknown.content)

    async def test_expired_sets_are_purged_when_a_new_one_is_kept(
        self, client, auth, clock, session, plans
    ):
        headers = auth(STUDENTS_READ)
        _, old = await first_page(client, headers)
        clock.set(clock.now() + timedelta(hours=13))
        _, new = await first_page(client, headers)

        kept = set((await session.execute(select(FoundSet.id))).scalars())
        assert kept == {new}
        assert old != new

    async def test_a_key_works_only_on_its_route(self, client, auth, session, plans):
        headers = auth(STUDENTS_READ)
        _, key = await first_page(client, headers)

        elsewhere = await page(client, headers, key, 2, path="/api/students/f000abc/plans")

        assert elsewhere.status_code == 400
