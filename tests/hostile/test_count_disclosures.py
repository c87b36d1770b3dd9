"""Issue 19, finding 8: filtered counts isolating one student recovered their class year, school
and family name (126 queries) without a disclosure record. A count that could identify a student
is now a disclosure of them, record type `count` (the rule: app.domain.disclosures.
NetidConditions; k = DISCLOSURE_COUNT_THRESHOLD, 5): the students its filter names by netid, those
a netid prefix of it matches when at most k, and those it counted when at most k.

Every GraphQL request here goes through `client`, so the planner and the resolvers answer it and
must record the same students (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth import STUDENTS_READ
from app.models import Disclosure
from tests.factories import make_plan, make_student, student_records
from tests.hostile import assert_clean

TARGET = "h800001"


@pytest.fixture
async def cohort(session):
    """The target among 7 others like it but for class year; a FERPA-protected student."""
    await make_student(session, netid=TARGET, class_year=2024, last_name="Quill")
    for i in range(2, 9):
        await make_student(session, netid=f"h80000{i}", class_year=2026, last_name="Other")
    await make_student(session, netid="h899999", class_year=2024, ferpa_protected=True)
    await make_plan(session, TARGET, department="GOVT")
    await session.commit()


async def counted(client, session, auth, query: str) -> tuple[int, list[tuple[str, str]]]:
    """The count answered, and the students the request recorded, with their types."""
    response = await client.post("/graphql", json={"query": query}, headers=auth(STUDENTS_READ))
    assert_clean(response)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    (connection,) = body["data"].values()
    shown = await student_records(
        session, Disclosure.request_id == response.headers["x-request-id"]
    )
    return connection["totalCount"], [(r.netid, r.record_types) for r in shown]


ISOLATING = {
    # what the attacker learns -> the count that tells it
    "class year, by naming the netid": (
        f'{{ students(filter: {{netid: {{eq: "{TARGET}"}}, classYear: {{eq: 2024}}}}) '
        "{ totalCount } }",
        1,
    ),
    "class year, a count without the student beside one with": (
        f'{{ students(filter: {{classYear: {{eq: 2024}}, not: {{netid: {{eq: "{TARGET}"}}}}}}) '
        "{ totalCount } }",
        0,
    ),
    "family name, by a netid prefix that matches one student": (
        '{ students(filter: {netid: {startsWith: "h800001"}, name: {startsWith: "Qu"}}) '
        "{ totalCount } }",
        1,
    ),
    "family name, by a filter that matches one student": (
        '{ students(filter: {name: {startsWith: "Qui"}, classYear: {eq: 2024}}) { totalCount } }',
        1,
    ),
    "a department, by the plans of one student": (
        f'{{ plans(filter: {{studentNetid: {{eq: "{TARGET}"}}, department: {{eq: "GOVT"}}}}) '
        "{ totalCount } }",
        1,
    ),
    "a department the student does not have (a count of 0 tells too)": (
        f'{{ plans(filter: {{studentNetid: {{in: ["{TARGET}"]}}, department: {{eq: "MATH"}}}}) '
        "{ totalCount } }",
        0,
    ),
}


@pytest.mark.parametrize("name", list(ISOLATING))
async def test_a_count_isolating_a_student_is_a_disclosure_of_them(
    client, session, auth, cohort, name
):
    query, expected = ISOLATING[name]
    total, shown = await counted(client, session, auth, query)
    assert total == expected
    assert (TARGET, "count") in shown, shown


async def test_an_aggregate_over_more_than_k_discloses_no_one(client, session, auth, cohort):
    total, shown = await counted(
        client, session, auth, '{ students(filter: {netid: {startsWith: "h8"}}) { totalCount } }'
    )
    assert (total, shown) == (8, [])  # 8 counted, 8 the prefix matches: both over k


async def test_a_hidden_student_named_is_neither_counted_nor_recorded(
    client, session, auth, cohort
):
    total, shown = await counted(
        client,
        session,
        auth,
        '{ students(filter: {netid: {in: ["h899999", "nobody"]}}) { totalCount } }',
    )
    assert (total, shown) == (0, [])  # as an unknown netid: nothing was disclosed


async def test_rest_total_count_of_plans_naming_a_student(client, session, auth, cohort):
    response = await client.get(
        f"/api/academic/plans?netid={TARGET}&department=MATH", headers=auth(STUDENTS_READ)
    )
    assert response.status_code == 200 and response.json() == []
    assert response.headers["x-total-count"] == "0"
    shown = await student_records(
        session, Disclosure.request_id == response.headers["x-request-id"]
    )
    assert [(r.netid, r.record_types, r.operation) for r in shown] == [
        (TARGET, "count", "GET /api/academic/plans")
    ]
