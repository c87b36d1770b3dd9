"""Filter values that once reached the drivers: huge integers and instants without a zone."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import make_plan, make_student


async def test_an_integer_beyond_64_bits_is_422_naming_the_filter(client, auth):
    response = await client.get("/api/academic/plans?id=99999999999999999999999999", headers=auth())
    assert response.status_code == 422
    assert response.json()["problems"][0]["loc"] == "id"


async def test_an_instant_without_a_zone_is_utc(client, auth, session):
    await make_student(session, netid="f0027k4")
    await make_plan(
        session, "f0027k4", id=20109, updated_at=datetime(2021, 1, 29, 23, 7, 2, tzinfo=UTC)
    )
    await session.commit()
    at_most = await client.get(
        "/api/academic/plans?updated_at==<2021-01-29T23:07:02", headers=auth()
    )
    before = await client.get(
        "/api/academic/plans?updated_at==<2021-01-29T23:07:01", headers=auth()
    )
    assert [p["id"] for p in at_most.json()] == ["20109"]
    assert before.json() == []
