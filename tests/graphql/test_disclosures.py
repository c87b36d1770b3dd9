"""Disclosure records of GraphQL reads (FERPA, 34 CFR 99.32): one per student an answer shows,
saying who received it, through which operation, which kinds of record, when, with which scopes
and under which request id. Every document sent through `client` is also answered by the
resolvers, and both engines must record the same students (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from app.main import create_app
from app.models import Disclosure
from tests.factories import (
    StudentRecord,
    make_dplan,
    make_plan,
    make_student,
    make_term,
    student_records,
)

STUDENT_PAGE = """query StudentPage($netid: String!) {
  student(netid: $netid) { name terms { termId } dplans { termCode } } }"""


async def records(session, request_id: str) -> list[StudentRecord]:
    """The students of a request's disclosure records, by netid."""
    return await student_records(session, Disclosure.request_id == request_id)


async def post(client, query: str, headers: dict[str, str], **variables: Any) -> Any:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


async def test_a_read_is_recorded_with_who_what_and_when(client, session, auth, clock):
    await make_student(session, netid="d000001")
    await make_term(session, "d000001", "202301")
    await session.commit()
    headers = auth(STUDENTS_READ, PEOPLE_PRIVATE, sub="registrar-tool")
    response = await post(client, STUDENT_PAGE, headers, netid="d000001")
    assert response.json()["data"]["student"]["terms"] == [{"termId": "202301-U"}]

    (record,) = await records(session, response.headers["x-request-id"])
    assert (record.netid, record.sub, record.operation) == (
        "d000001",
        "registrar-tool",
        "query StudentPage",
    )
    assert record.record_types == "dplans,student,terms"
    assert record.scopes == f"{STUDENTS_READ} {PEOPLE_PRIVATE}"
    assert record.at == clock.now()


async def test_a_hidden_or_unknown_student_is_not_recorded(client, session, auth):
    await make_student(session, netid="d000002", ferpa_protected=True)
    await session.commit()
    for netid in ("d000002", "nobody"):
        response = await post(client, STUDENT_PAGE, auth(STUDENTS_READ), netid=netid)
        assert response.json()["data"]["student"] is None
        assert await records(session, response.headers["x-request-id"]) == []
    allowed = await post(client, STUDENT_PAGE, auth(STUDENTS_READ, PEOPLE_PRIVATE), netid="d000002")
    assert [r.netid for r in await records(session, allowed.headers["x-request-id"])] == ["d000002"]


async def test_a_page_records_exactly_its_students(client, session, auth):
    for i in range(5):
        await make_student(session, netid=f"p00000{i}")
    await session.commit()
    page = await post(client, "{ students(first: 2) { edges { node { netid } } } }", auth())
    assert [r.netid for r in await records(session, page.headers["x-request-id"])] == [
        "p000000",
        "p000001",
    ]
    cursors = await post(client, "{ students(first: 1) { pageInfo { endCursor } } }", auth())
    assert [r.netid for r in await records(session, cursors.headers["x-request-id"])] == [
        "p000000"
    ]  # a cursor names its student
    # A count shows no page. Of 5 students it counted at most k (5) of them: it discloses
    # them, as `count` (issue 19; the rule: app.domain.disclosures.NetidConditions).
    count = await post(client, "{ students { totalCount } }", auth())
    counted = await records(session, count.headers["x-request-id"])
    assert [(r.netid, r.record_types) for r in counted] == [
        (f"p00000{i}", "count") for i in range(5)
    ]
    await make_student(session, netid="p000005")
    await session.commit()
    over_k = await post(client, "{ students { totalCount } }", auth())
    assert await records(session, over_k.headers["x-request-id"]) == []  # 6: an aggregate


async def test_a_page_of_several_plans_of_one_student_records_it_once(client, session, auth):
    await make_student(session, netid="d000011")
    for _ in range(3):
        await make_plan(session, "d000011")
    await session.commit()
    page = await post(client, "{ plans(first: 3) { edges { node { planId } } } }", auth())
    shown = await records(session, page.headers["x-request-id"])
    assert [(r.netid, r.record_types) for r in shown] == [("d000011", "plans")]


async def test_one_record_per_student_whatever_the_root_fields(client, session, auth):
    await make_student(session, netid="d000003")
    plan = await make_plan(session, "d000003")
    await session.commit()
    query = f"""query Two {{ a: student(netid: "d000003") {{ terms {{ termId }} }}
        b: plan(id: "{plan.id}") {{ name }} c: student(netid: "d000003") {{ netid }} }}"""
    response = await post(client, query, auth())
    (record,) = await records(session, response.headers["x-request-id"])
    assert (record.netid, record.record_types) == ("d000003", "plans,student,terms")


async def test_plans_of_another_student_reached_through_a_plan_are_recorded(client, session, auth):
    await make_student(session, netid="d000004")
    await make_student(session, netid="d000005")
    parent = await make_plan(session, "d000004", type="Modified")
    await make_plan(session, "d000005", parent_id=parent.id)
    await session.commit()
    query = f'{{ plan(id: "{parent.id}") {{ children {{ studentNetid }} }} }}'
    response = await post(client, query, auth())
    shown = await records(session, response.headers["x-request-id"])
    assert [(r.netid, r.record_types) for r in shown] == [
        ("d000004", "plans"),
        ("d000005", "plans"),
    ]


async def test_a_child_plan_of_a_hidden_student_is_neither_shown_nor_recorded(
    client, session, auth
):
    await make_student(session, netid="d000009")
    await make_student(session, netid="d000010", ferpa_protected=True)
    parent = await make_plan(session, "d000009", type="Modified")
    await make_plan(session, "d000010", parent_id=parent.id)
    await session.commit()
    query = f'{{ plan(id: "{parent.id}") {{ children {{ studentNetid }} }} }}'
    hidden = await post(client, query, auth(STUDENTS_READ))
    assert hidden.json()["data"]["plan"]["children"] == []
    assert [r.netid for r in await records(session, hidden.headers["x-request-id"])] == ["d000009"]
    shown = await post(client, query, auth(STUDENTS_READ, PEOPLE_PRIVATE))
    assert shown.json()["data"]["plan"]["children"] == [{"studentNetid": "d000010"}]
    assert [r.netid for r in await records(session, shown.headers["x-request-id"])] == [
        "d000009",
        "d000010",
    ]


async def test_a_task_shown_is_recorded(client, session, auth):
    await make_student(session, netid="d000006")
    await make_dplan(session, "d000006", "202301")
    await session.commit()
    mutation = """mutation Set { setDplans(netid: "d000006", dplans: [
        {termCode: "202301", dplanId: "R", dplanSourceId: "PHL"}]) { taskId } }"""
    accepted = await post(client, mutation, auth())
    task_id = accepted.json()["data"]["setDplans"]["taskId"]
    (record,) = await records(session, accepted.headers["x-request-id"])
    assert (record.netid, record.operation, record.record_types) == (
        "d000006",
        "mutation Set",
        "tasks",
    )
    read = await post(client, f'{{ task(id: "{task_id}") {{ status }} }}', auth())
    assert [r.record_types for r in await records(session, read.headers["x-request-id"])] == [
        "tasks"
    ]


async def test_no_answer_leaves_without_its_record(client, session, auth):
    await make_student(session, netid="d000007", first_name="Unrecorded")
    await session.commit()
    await session.execute(text("ALTER TABLE disclosures RENAME TO disclosures_gone"))
    await session.commit()
    try:
        response = await client.post(
            "/graphql", json={"query": '{ student(netid: "d000007") { name } }'}, headers=auth()
        )
    finally:  # the PostgreSQL database is the session's, kept between tests
        await session.execute(text("ALTER TABLE disclosures_gone RENAME TO disclosures"))
        await session.commit()
    assert "Unrecorded" not in response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_records_can_be_turned_off(settings, clock, session, auth):
    import httpx

    await make_student(session, netid="d000008")
    await session.commit()
    off = create_app(settings.model_copy(update={"disclosure_records": False}), clock=clock)
    async with off.router.lifespan_context(off):
        transport = httpx.ASGITransport(app=off)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await post(client, STUDENT_PAGE, auth(), netid="d000008")
    assert response.json()["data"]["student"] is not None
    assert await records(session, response.headers["x-request-id"]) == []


async def test_one_record_per_request_and_combination_of_record_types(client, session, auth):
    """Students shown with the same kinds of record share one record (a page is one record);
    a student shown with more kinds is in the record of that combination."""
    for i in range(4):
        await make_student(session, netid=f"g00000{i}")
    await make_term(session, "g000001", "202301")
    await session.commit()
    query = """query Mixed { page: students(first: 3) { edges { node { netid } } }
        one: student(netid: "g000001") { terms { termId } } }"""
    response = await post(client, query, auth())
    request_id = response.headers["x-request-id"]
    stmt = (
        select(Disclosure.record_types, Disclosure.netids)
        .where(Disclosure.request_id == request_id)
        .order_by(Disclosure.record_types)
    )
    rows = [(t, list(n)) for t, n in (await session.execute(stmt)).all()]
    assert rows == [("student", ["g000000", "g000002"]), ("student,terms", ["g000001"])]
