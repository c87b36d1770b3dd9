"""Plan reads: ids are strings of ASCII digits; a hidden student's plan is absent, like an unknown
one; the read scope comes first."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, Principal
from app.errors import Forbidden
from app.services.plans import find_plan, parse_plan_id
from tests.factories import make_plan, make_student

READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ}))
PRIVATE_READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ, PEOPLE_PRIVATE}))


@pytest.fixture
async def plans(session):
    """Plan 501 of a visible student, 502 of a FERPA-protected one."""
    await make_student(session, netid="f000abc")
    await make_student(session, netid="f000hid", ferpa_protected=True)
    await make_plan(session, "f000abc", id=501, name="ECON-MAJOR")
    await make_plan(session, "f000hid", id=502, name="GOVT-MAJOR")
    await session.commit()


class TestParsePlanId:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("0", 0), ("501", 501), ("007", 7), ("9" * 18, 10**18 - 1)],
    )
    def test_digits(self, text, expected):
        assert parse_plan_id(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "abc",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "0x1f",
            "\uff11\uff12",
            "\u00b2",
            "9" * 19,
        ],
    )
    def test_anything_else_names_no_plan(self, text):
        assert parse_plan_id(text) is None


class TestFindPlan:
    async def test_a_visible_plan(self, session, plans):
        row = await find_plan(session, READER, "501")

        assert row is not None
        assert (row.id, row.student_netid, row.name) == (501, "f000abc", "ECON-MAJOR")

    async def test_hidden_students_plan_is_none_like_unknown(self, session, plans):
        assert await find_plan(session, READER, "502") is None
        assert await find_plan(session, READER, "599") is None

    async def test_people_private_sees_the_hidden_students_plan(self, session, plans):
        row = await find_plan(session, PRIVATE_READER, "502")

        assert row is not None and (row.id, row.student_netid) == (502, "f000hid")

    async def test_a_malformed_id_is_none_without_sql(self, engine, session, plans):
        statements: list[str] = []
        event.listen(
            engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2])
        )

        assert await find_plan(session, READER, "50x") is None
        assert await find_plan(session, READER, "9" * 19) is None
        assert statements == []

    @pytest.mark.parametrize("plan_id", ["501", "502", "599", "50x"])
    @pytest.mark.parametrize("scopes", [(), (STUDENTS_WRITE,), (PEOPLE_PRIVATE,)])
    async def test_read_scope_is_required(self, session, plans, scopes, plan_id):
        principal = Principal(sub="f003ghc", scopes=frozenset(scopes))
        with pytest.raises(Forbidden, match=STUDENTS_READ):
            await find_plan(session, principal, plan_id)
