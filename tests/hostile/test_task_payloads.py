"""Issue 19, finding 3: tasks' disk. The description fields of a D-plan PATCH are ignored but
were stored as sent, unchecked (about 1 MB per task, read back 30 times by aliased `task(id)`).
Now each is a printable string of at most 128 characters (or null) and the stored payload at
most 64 KiB: anything more is a 422 naming the field, and no task is written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.auth import STUDENTS_READ, STUDENTS_WRITE
from app.domain.dplans import MAX_DESCRIPTION_CHARS, MAX_PAYLOAD_BYTES
from app.models import Task
from tests.factories import make_student
from tests.hostile import assert_clean
from tests.hostile.stalls import loop_prober

NETID = "h300001"
TERMS = [f"{year}{month}" for year in range(2001, 2031) for month in ("01", "03", "06", "09")]


def entry(term: str, description: Any, source_description: Any = "Registrar Action") -> Any:
    return {
        "dplan_description": description,
        "dplan_source_id": "PHL",
        "dplan_id": "R",
        "dplan_source_description": source_description,
        "term_code": term,
    }


@pytest.fixture
async def student(session):
    await make_student(session, netid=NETID)
    await session.commit()


async def tasks_stored(session) -> int:
    count = await session.scalar(select(func.count()).select_from(Task))
    await session.rollback()
    return int(count or 0)


HOSTILE = {
    "a description of a megabyte": (entry("202301", "x" * 1_000_000), "dplan_description"),
    "a description of 129 characters": (
        entry("202301", "Resident", "y" * (MAX_DESCRIPTION_CHARS + 1)),
        "dplan_source_description",
    ),
    "a description that is an object": (
        entry("202301", {"nested": ["x" * 1000] * 500}),
        "dplan_description",
    ),
    "a description that is a number": (entry("202301", 12), "dplan_description"),
    "a description with a newline": (entry("202301", "Resi\ndent"), "dplan_description"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_rest_refuses_description_fields_past_their_bound(
    client, auth, session, student, name
):
    body, field = HOSTILE[name]
    headers = auth(STUDENTS_WRITE, STUDENTS_READ)
    async with loop_prober(client) as prober:
        response = await client.patch(
            f"/api/students/{NETID}", json={"dplans": [body]}, headers=headers
        )
    prober.assert_no_stall()
    assert_clean(response)
    assert response.status_code == 422, response.text
    assert [p["loc"] for p in response.json()["problems"]] == [f"dplans[0].{field}"]
    assert await tasks_stored(session) == 0


async def test_graphql_refuses_a_long_description(client, auth, session, student):
    mutation = """mutation Set($d: String) { setDplans(netid: "h300001", dplans: [
        {termCode: "202301", dplanId: "R", dplanSourceId: "PHL", dplanDescription: $d}]) {
        taskId } }"""
    response = await client.post(
        "/graphql",
        json={"query": mutation, "variables": {"d": "z" * 100_000}},
        headers=auth(STUDENTS_WRITE, STUDENTS_READ),
    )
    assert_clean(response)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [p["loc"] for p in error["extensions"]["problems"]] == ["dplans[0].dplanDescription"]
    assert await tasks_stored(session) == 0


async def test_a_payload_past_64_kib_as_stored_is_refused(client, auth, session, student):
    """100 entries whose descriptions are each 128 characters of emoji are within every field's
    bound, but stored as JSON (each emoji a 12-byte surrogate-pair escape) past 64 KiB."""
    emoji = "\U0001f600" * MAX_DESCRIPTION_CHARS
    body = {"dplans": [entry(term, emoji, emoji) for term in TERMS[:100]]}
    response = await client.patch(
        f"/api/students/{NETID}", json=body, headers=auth(STUDENTS_WRITE, STUDENTS_READ)
    )
    assert response.status_code == 422, response.text
    assert [p["loc"] for p in response.json()["problems"]] == ["dplans"]
    assert str(MAX_PAYLOAD_BYTES) in response.json()["problems"][0]["message"]
    assert await tasks_stored(session) == 0


async def test_the_largest_task_accepted_and_what_it_stores(client, auth, session, student):
    """A payload near the largest accepted: 100 entries, each description 128 printable
    characters, one of them all escaped. Its stored payload is what `json.dumps` makes of it, at
    most MAX_PAYLOAD_BYTES, and a read answers it in full (the task record shows what was sent)."""
    quote = '"' * MAX_DESCRIPTION_CHARS  # each escaped as \" : 256 bytes stored
    body = {"dplans": [entry(term, quote, "a" * MAX_DESCRIPTION_CHARS) for term in TERMS[:100]]}
    assert 50_000 < len(json.dumps(body)) <= MAX_PAYLOAD_BYTES
    headers = auth(STUDENTS_WRITE, STUDENTS_READ)
    accepted = await client.patch(f"/api/students/{NETID}", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    task = await client.get(accepted.headers["location"], headers=headers)
    assert task.json()["payload"] == body
    length = (
        "octet_length(payload::text)"
        if session.bind.dialect.name == "postgresql"
        else ("length(CAST(payload AS BLOB))")
    )
    stored = await session.scalar(text(f"SELECT {length} FROM tasks"))
    assert stored == len(json.dumps(body)) <= MAX_PAYLOAD_BYTES
