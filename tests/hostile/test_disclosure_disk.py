"""Issue 19, finding 2: disk through disclosure records. One request of 30 aliased
`students(first: 100)` at different cursors showed 3,000 students and wrote 3,000 records (about
830 KB). A record is now per request and combination of record types: that request writes one,
naming its 3,000 students, and the audit still finds each of them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, insert, select

from app.main import create_app
from app.models import Disclosure, Student
from tests.cli.test_data import run_cli
from tests.factories import student_records
from tests.hostile.stalls import loop_prober

ALIASES = 30
PAGE = 100


def _cursor(netid: str) -> str:
    import base64

    return base64.urlsafe_b64encode(f"student:{netid}".encode()).decode()


def _document() -> str:
    """30 pages of 100 at different cursors: 3,000 students, each shown once."""
    fields = [
        f'p{i}: students(first: {PAGE}, after: "{_cursor(f"h{i * PAGE:06d}")}") '
        "{ edges { node { netid name classYear } } }"
        for i in range(ALIASES)
    ]
    return "query Hoard { " + " ".join(fields) + " }"


@pytest.fixture
async def students(session):
    """h000000 .. h003000 (each page starts after its cursor's netid)."""
    rows = [
        {
            "netid": f"h{n:06d}",
            "first_name": "Given",
            "last_name": f"Family{n}",
            "class_year": 2027,
            "school_code": "UG",
            "ferpa_protected": False,
        }
        for n in range(ALIASES * PAGE + 1)
    ]
    await session.execute(insert(Student), rows)
    await session.commit()


@pytest.mark.parametrize("planner", [True, False], ids=["planner", "resolvers"])
async def test_thirty_pages_of_a_hundred_are_one_record(
    settings, clock, session, students, auth, database_url, planner
):
    """Both engines: the planner's one statement records in its own CTE (PostgreSQL) or returns
    the students for one insert (SQLite); the resolvers insert in the operation's unit of work."""
    import httpx

    app = create_app(settings.model_copy(update={"graphql_planner": planner}), clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        async with loop_prober(client) as prober:
            response = await client.post("/graphql", json={"query": _document()}, headers=auth())
        prober.assert_no_stall()
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert sum(len(page["edges"]) for page in body["data"].values()) == ALIASES * PAGE

    request_id = response.headers["x-request-id"]
    records = await session.scalar(
        select(func.count()).select_from(Disclosure).where(Disclosure.request_id == request_id)
    )
    assert records == 1  # it was 3,000: one per student
    shown = await student_records(session, Disclosure.request_id == request_id)
    assert [r.netid for r in shown] == [f"h{n:06d}" for n in range(1, ALIASES * PAGE + 1)]
    assert {r.record_types for r in shown} == {"student"}

    # The audit by netid still finds a student named in the middle of that one record.
    audited = run_cli("audit", "--netid", "h001500", "--json", url=database_url)
    assert audited.returncode == 0, audited.stderr
    assert [json.loads(line)["request_id"] for line in audited.stdout.splitlines()] == [request_id]
