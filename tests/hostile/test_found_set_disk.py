"""Issue 19, finding 4: disk through found sets. A REST collection request stored every matching
key whatever its page size (`?pagesize=1` on 8,192 plans: 30.7 KB, kept 12 hours, growing with
the table). A found set now keeps its first keys packed within FOUND_SET_MAX_BYTES and, past
them, the first request's filter to read the rest again; paging stays as the contract says."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, insert, select

from app.auth import STUDENTS_READ
from app.domain.found_sets import unpack
from app.main import create_app
from app.models import AcademicPlan, FoundSet
from app.rest.query import MAX_FILTER_CHARS
from tests.factories import make_student, make_term
from tests.hostile import assert_clean
from tests.hostile.stalls import loop_prober

PLANS = "/api/academic/plans"


async def _plans(session, ids: list[int], netid: str = "h700001") -> None:
    await make_student(session, netid=netid)
    rows = [
        {
            "id": plan_id,
            "type": "Major",
            "state": "declared",
            "name": f"PLAN-{plan_id}",
            "department": "GOVT" if plan_id % 3 else "MATH",
            "student_netid": netid,
            "updated": False,
            "dropped": False,
        }
        for plan_id in ids
    ]
    await session.execute(insert(AcademicPlan), rows)
    await session.commit()


def _sparse(count: int, seed: int = 19) -> list[int]:
    """Ids with random gaps: what packs worst (consecutive ids pack to almost nothing)."""
    return sorted(random.Random(seed).sample(range(1, 50 * count), count))


async def test_pagesize_one_on_8192_plans_keeps_at_most_the_bound(client, session, auth, settings):
    await _plans(session, _sparse(8192))
    async with loop_prober(client) as prober:
        response = await client.get(PLANS, params={"pagesize": 1}, headers=auth(STUDENTS_READ))
    prober.assert_no_stall()
    assert response.status_code == 200 and response.headers["x-total-count"] == "8192"
    (packed, total, beyond) = (
        await session.execute(select(FoundSet.packed, FoundSet.total, FoundSet.beyond))
    ).one()
    assert len(packed) <= settings.found_set_max_bytes  # it was 30.7 KB of JSON, and grew
    assert total == 8192 and len(unpack(packed)) < 8192  # the rest is read again by query
    assert beyond["conditions"] == [] and beyond["bound"] == max(_sparse(8192))


@pytest.fixture
async def small_bound(settings, clock):
    """The app with found sets bound to 64 bytes: a few dozen sparse keys, then the query."""
    import httpx

    app = create_app(settings.model_copy(update={"found_set_max_bytes": 64}), clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_paging_past_the_kept_keys_visits_every_row_once(small_bound, session, auth):
    ids = _sparse(300)
    await _plans(session, ids)
    headers = auth(STUDENTS_READ)
    response = await small_bound.get(
        PLANS, params={"pagesize": 7, "department": "GOVT"}, headers=headers
    )
    expected = [i for i in ids if i % 3]
    (packed, beyond) = (await session.execute(select(FoundSet.packed, FoundSet.beyond))).one()
    kept = unpack(packed)
    assert len(packed) <= 64 and 7 < len(kept) < len(expected)  # pages within and past
    assert beyond["conditions"] == [["department", "eq", "GOVT"]]
    seen = [int(p["id"]) for p in response.json()]
    while "link" in response.headers:
        target = response.headers["link"].split(">")[0].lstrip("<")
        response = await small_bound.get(target, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == str(len(expected))
        seen += [int(p["id"]) for p in response.json()]
    assert seen == expected  # in order, each once, the filter applied past the kept keys


async def test_a_plan_added_after_the_first_request_stays_out_past_the_kept_keys(
    small_bound, session, auth
):
    """The query that reads the rest stops at the highest plan id of the first request."""
    ids = _sparse(100)
    await _plans(session, ids)
    headers = auth(STUDENTS_READ)
    first = await small_bound.get(PLANS, params={"pagesize": 10}, headers=headers)
    key = first.headers["x-request-id"]
    await _plans(session, [max(ids) + 1], netid="h700002")
    last_page = (len(ids) + 9) // 10
    response = await small_bound.get(
        PLANS, params={"continuation_key": key, "page": last_page, "pagesize": 10}, headers=headers
    )
    assert [int(p["id"]) for p in response.json()] == ids[(last_page - 1) * 10 :]
    assert await session.scalar(select(func.count()).select_from(AcademicPlan)) == len(ids) + 1


async def test_filters_past_their_bound_are_a_422(client, auth, session):
    await _plans(session, [1, 2])
    response = await client.get(
        PLANS, params={"name": "x" * MAX_FILTER_CHARS}, headers=auth(STUDENTS_READ)
    )
    assert_clean(response)
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["problems"]] == ["query"]


async def test_a_students_terms_past_the_kept_keys_come_in_order(small_bound, session, auth):
    """Text keys (student-term ids) past the bound: read again in the route's order."""
    await make_student(session, netid="h700003")
    terms = [f"{year}{month}" for year in range(2015, 2020) for month in ("01", "03", "06", "09")]
    for term in terms:
        await make_term(session, "h700003", term)
    await session.commit()
    headers, path = auth(STUDENTS_READ), "/api/students/h700003/terms"
    response = await small_bound.get(path, params={"pagesize": 3}, headers=headers)
    (packed,) = (await session.execute(select(FoundSet.packed))).one()
    assert 3 < len(unpack(packed)) < len(terms)
    seen = [t["term_id"] for t in response.json()]
    while "link" in response.headers:
        target = response.headers["link"].split(">")[0].lstrip("<")
        response = await small_bound.get(target, headers=headers)
        seen += [t["term_id"] for t in response.json()]
    assert seen == [f"{term}-U" for term in terms]
