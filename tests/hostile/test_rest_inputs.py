"""Hostile REST input: each a clear 4xx in the REST error shape that names the problem, nothing
of the inside shown, and nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Task
from tests.factories import make_student
from tests.hostile import assert_clean

NETID = "f0027k4"
DPLAN = '{"term_code": "202301", "dplan_id": "R", "dplan_source_id": "PHL"}'

# name: (method, path, body, content type, status, code)
CORPUS: dict[str, tuple[str, str, bytes | None, str | None, int, str]] = {
    "a key twice at the top of the body": (
        "PATCH",
        f"/api/students/{NETID}",
        ('{"dplans": [], "dplans": [' + DPLAN + "]}").encode(),
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a key twice in a dplan": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": [{"term_code": "202301", "dplan_id": "R", "dplan_id": "L", '
        b'"dplan_source_id": "PHL"}]}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a body nested 400 deep": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": ' + b"[" * 400 + b"]" * 400 + b"}",
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a body nested 100,000 deep": (
        "PATCH",
        f"/api/students/{NETID}",
        b"[" * 100000 + b"]" * 100000,
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a lone surrogate in a dplan": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": [{"term_code": "\\ud800", "dplan_id": "R", "dplan_source_id": "PHL"}]}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a lone surrogate in a key": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": [], "\\udfff": 1}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    # Each key was once counted in the whole list: quadratic, minutes of a blocked event loop.
    "60,000 keys in one object": (
        "PATCH",
        f"/api/students/{NETID}",
        ("{" + ",".join(f'"k{i}": 0' for i in range(60000)) + ', "k59999": 1}').encode(),
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "NaN in the body": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": [NaN]}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a body that is not JSON": (
        "PATCH",
        f"/api/students/{NETID}",
        b"{dplans",
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a body that is not UTF-8": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": "\xff\xfe"}',
        "application/json",
        400,
        "BAD_REQUEST",
    ),
    "a form instead of JSON": (
        "PATCH",
        f"/api/students/{NETID}",
        b"dplans=1",
        "application/x-www-form-urlencoded",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    "an unknown top-level key": (
        "PATCH",
        f"/api/students/{NETID}",
        ('{"dplans": [' + DPLAN + '], "admin": true}').encode(),
        "application/json",
        422,
        "BAD_USER_INPUT",
    ),
    "dplans not a list": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": "R"}',
        "application/json",
        422,
        "BAD_USER_INPUT",
    ),
    "101 dplans": (
        "PATCH",
        f"/api/students/{NETID}",
        ('{"dplans": [' + ",".join([DPLAN] * 101) + "]}").encode(),
        "application/json",
        422,
        "BAD_USER_INPUT",
    ),
    "a body past MAX_BODY_BYTES": (
        "PATCH",
        f"/api/students/{NETID}",
        b'{"dplans": "' + b"x" * (1024 * 1024) + b'"}',
        "application/json",
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    "pagesize 0": ("GET", "/api/academic/plans?pagesize=0", None, None, 422, "BAD_USER_INPUT"),
    "pagesize not a number": (
        "GET",
        "/api/academic/plans?pagesize=ten",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "page 2 without a continuation key": (
        "GET",
        "/api/academic/plans?page=2",
        None,
        None,
        400,
        "BAD_REQUEST",
    ),
    "an unknown continuation key": (
        "GET",
        "/api/academic/plans?continuation_key=nope&page=2",
        None,
        None,
        400,
        "BAD_REQUEST",
    ),
    "3,000 filters": (
        "GET",
        "/api/academic/plans?" + "&".join(f"netid=x{i}" for i in range(3000)),
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "a word for an integer filter": (
        "GET",
        "/api/academic/plans?parent_id=abc",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "an integer past 64 bits": (
        "GET",
        "/api/academic/plans?parent_id=99999999999999999999999",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "a word for an instant": (
        "GET",
        "/api/academic/plans?updated_at=yesterday",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "a word for a term offset": (
        "GET",
        f"/api/students/{NETID}/terms?quarterly_term.current_term_offset=soon",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "a prefix on a term offset": (
        "GET",
        f"/api/students/{NETID}/terms?quarterly_term.current_term_offset=1*",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "maybe for is_active": (
        "GET",
        f"/api/students/{NETID}/terms?is_active=maybe",
        None,
        None,
        422,
        "BAD_USER_INPUT",
    ),
    "a NUL in the path": ("GET", "/api/students/f00%00/terms", None, None, 400, "BAD_REQUEST"),
    "a NUL in the query string": (
        "GET",
        "/api/academic/plans?netid=a%00b",
        None,
        None,
        400,
        "BAD_REQUEST",
    ),
    "a 300-character netid": ("GET", "/api/students/" + "x" * 300, None, None, 404, "NOT_FOUND"),
    "a plan id that is not a number": (
        "GET",
        "/api/academic/plans/1%27%20OR%201=1",
        None,
        None,
        404,
        "NOT_FOUND",
    ),
    "a task id that is not one": ("GET", "/api/tasks/..%2F..%2Fetc", None, None, 404, "NOT_FOUND"),
    "DELETE on a student": (
        "DELETE",
        f"/api/students/{NETID}",
        None,
        None,
        405,
        "METHOD_NOT_ALLOWED",
    ),
}


@pytest.fixture
async def student(session):
    await make_student(session, netid=NETID)
    await session.commit()


@pytest.mark.parametrize("name", list(CORPUS))
async def test_refused_clearly(client, session, auth, student, name):
    method, path, body, content_type, status, code = CORPUS[name]
    headers = auth()
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text[:300]
    answer = response.json()
    assert answer["code"] == code and answer["status"] == status, answer
    assert_clean(response)
    tasks = (await session.execute(select(func.count()).select_from(Task))).scalar_one()
    assert tasks == 0  # nothing written


async def test_a_long_idempotency_key(client, session, auth, student):
    response = await client.patch(
        f"/api/students/{NETID}",
        content=('{"dplans": [' + DPLAN + "]}").encode(),
        headers={**auth(), "Content-Type": "application/json", "Idempotency-Key": "k" * 300},
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["loc"] == "idempotency_key"


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 20
