"""Disclosure records of the REST compat reads: one per student an answer shows, named by the
route's template; none for a 404 (a hidden or unknown student shows nothing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from app.models import Disclosure
from tests.factories import make_plan, make_student, make_term, student_records
from tests.worker.helpers import accept, dplans_body


async def records(session, response) -> list[Any]:
    request_id = response.headers["x-request-id"]
    shown = await student_records(session, Disclosure.request_id == request_id)
    return [(r.netid, r.operation, r.record_types) for r in shown]


async def test_a_student_and_its_collections(client, session, auth):
    await make_student(session, netid="r000001")
    await make_term(session, "r000001", "202301")
    await session.commit()
    headers = auth(STUDENTS_READ, sub="dartapi-caller")
    student = await client.get("/api/students/r000001", headers=headers)
    assert student.status_code == 200
    assert await records(session, student) == [
        ("r000001", "GET /api/students/{netid}", "dplans,student")
    ]
    terms = await client.get("/api/students/r000001/terms", headers=headers)
    assert await records(session, terms) == [
        ("r000001", "GET /api/students/{netid}/terms", "terms")
    ]
    plans = await client.get("/api/students/r000001/plans", headers=headers)
    assert plans.json() == []  # an empty list still shows the student's (empty) record
    assert await records(session, plans) == [
        ("r000001", "GET /api/students/{netid}/plans", "plans")
    ]
    (row,) = (await session.execute(select(Disclosure.sub, Disclosure.scopes).limit(1))).all()
    assert tuple(row) == ("dartapi-caller", STUDENTS_READ)


async def test_a_404_records_nothing(client, session, auth):
    await make_student(session, netid="r000002", ferpa_protected=True)
    await session.commit()
    for path in ("/api/students/r000002", "/api/students/r000002/terms", "/api/students/none"):
        response = await client.get(path, headers=auth(STUDENTS_READ))
        assert response.status_code == 404
        assert await records(session, response) == []
    shown = await client.get("/api/students/r000002", headers=auth(STUDENTS_READ, PEOPLE_PRIVATE))
    assert [r[0] for r in await records(session, shown)] == ["r000002"]


async def test_plan_pages_record_the_students_of_their_plans(client, session, auth):
    for i, netid in enumerate(("r000003", "r000004", "r000005")):
        await make_student(session, netid=netid)
        await make_plan(session, netid, id=100 + i)
    await session.commit()
    first = await client.get("/api/academic/plans?pagesize=2", headers=auth())
    # The page shows two students' plans; its X-Total-Count of 3 (at most k) discloses the
    # third's as a count (issue 19).
    assert await records(session, first) == [
        ("r000003", "GET /api/academic/plans", "count,plans"),
        ("r000004", "GET /api/academic/plans", "count,plans"),
        ("r000005", "GET /api/academic/plans", "count"),
    ]
    key = first.headers["x-request-id"]
    later = await client.get(
        f"/api/academic/plans?pagesize=2&continuation_key={key}&page=2", headers=auth()
    )
    assert await records(session, later) == [("r000005", "GET /api/academic/plans", "plans")]
    one = await client.get("/api/academic/plans/101", headers=auth())
    assert await records(session, one) == [
        ("r000004", "GET /api/academic/plans/{plan_id}", "plans")
    ]


async def test_a_task_read_is_recorded(client, sessions, session, auth):
    await make_student(session, netid="r000006")
    await session.commit()
    task_id = await accept(sessions, "r000006", dplans_body(("202301", "R", "PHL")))
    response = await client.get(f"/api/tasks/{task_id}", headers=auth())
    assert response.status_code == 200
    assert await records(session, response) == [("r000006", "GET /api/tasks/{task_id}", "tasks")]
