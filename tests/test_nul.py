"""A NUL character is a clear 400 at every door, never a database error (PostgreSQL text cannot
hold one)."""

from __future__ import annotations

import pytest

from tests.factories import make_student


@pytest.mark.parametrize(
    "path",
    [
        "/api/students/f0%00/terms",
        "/api/students/f000abc",
        "/api/academic/plans?department=GO%00",
        "/api/academic/plans?de%00pt=1",
    ],
)
async def test_rest_urls(client, auth, path):
    if "f000abc" in path:
        path += "?x=%00"
    response = await client.get(path, headers=auth())
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["message"]


async def test_patch_body(client, auth, session):
    await make_student(session, netid="f000abc")
    await session.commit()
    body = {"dplans": [{"dplan_id": "R", "dplan_source_id": "PHL", "term_code": "2023\u000001"}]}
    response = await client.patch("/api/students/f000abc", json=body, headers=auth())
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($n: String!) { student(netid: $n) { netid } }", {"n": "f0\u0000"}),
        ('{ student(netid: "f0\\u0000") { netid } }', None),
        ('{ student(netid: "f0\\u{0}") { netid } }', None),
    ],
)
async def test_graphql(client, auth, query, variables):
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=auth()
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
