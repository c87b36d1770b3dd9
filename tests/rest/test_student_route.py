"""GET /api/students/{netid} decides visibility once: the student, then its D-plans."""

from __future__ import annotations

from tests.factories import make_dplan, make_student


async def test_one_statement(client, auth, session, sql_counter, read_statements):
    await make_student(session, netid="f000abc")
    await make_dplan(session, "f000abc", "202301")
    await session.commit()
    sql_counter.statements.clear()
    response = await client.get("/api/students/f000abc", headers=auth())
    assert response.status_code == 200
    assert [d["term_code"] for d in response.json()["dplans"]] == ["202301"]
    # The JSON is built by the database, and the disclosure record written by the same statement
    # on PostgreSQL (after it on SQLite).
    assert sql_counter.count == read_statements, sql_counter.statements
