"""GET /api/students/{netid} decides visibility once: the student, then its D-plans."""

from __future__ import annotations

from tests.factories import make_dplan, make_student


async def test_one_statement(client, auth, session, sql_counter):
    await make_student(session, netid="f000abc")
    await make_dplan(session, "f000abc", "202301")
    await session.commit()
    sql_counter.statements.clear()
    response = await client.get("/api/students/f000abc", headers=auth())
    assert response.status_code == 200
    assert [d["term_code"] for d in response.json()["dplans"]] == ["202301"]
    assert sql_counter.count == 1, sql_counter.statements  # the JSON is built by the database
