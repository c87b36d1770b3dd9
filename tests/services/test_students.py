"""Student reads: the read scope first; then a hidden student is absent, like an unknown one."""

from __future__ import annotations

import pytest

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE, Principal
from app.errors import Forbidden, NotFound
from app.services.students import find_student, visible_student
from tests.factories import make_student

READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ}))
PRIVATE_READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ, PEOPLE_PRIVATE}))
WITHOUT_READ = [(), (STUDENTS_WRITE,), (PEOPLE_PRIVATE,), (TASKS_WRITE, STUDENTS_WRITE)]


@pytest.fixture
async def students(session):
    await make_student(session, netid="f000abc", first_name="Ada", last_name="Lovelace")
    await make_student(session, netid="f000hid", ferpa_protected=True)
    await session.commit()


class TestFindStudent:
    async def test_a_visible_student(self, session, students):
        row = await find_student(session, READER, "f000abc")

        assert row is not None
        assert (row.netid, row.first_name, row.last_name) == ("f000abc", "Ada", "Lovelace")
        assert row.ferpa_protected is False

    async def test_hidden_is_none_like_unknown(self, session, students):
        assert await find_student(session, READER, "f000hid") is None
        assert await find_student(session, READER, "f000unk") is None

    async def test_people_private_sees_the_hidden_student(self, session, students):
        row = await find_student(session, PRIVATE_READER, "f000hid")

        assert row is not None and (row.netid, row.ferpa_protected) == ("f000hid", True)

    @pytest.mark.parametrize("scopes", WITHOUT_READ)
    @pytest.mark.parametrize("netid", ["f000abc", "f000hid", "f000unk"])
    async def test_read_scope_is_required_whoever_is_asked_for(
        self, session, students, scopes, netid
    ):
        principal = Principal(sub="f003ghc", scopes=frozenset(scopes))
        with pytest.raises(Forbidden, match=STUDENTS_READ):
            await find_student(session, principal, netid)


class TestVisibleStudent:
    async def test_returns_the_row(self, session, students):
        row = await visible_student(session, READER, "f000abc")

        assert row.netid == "f000abc"

    async def test_hidden_raises_exactly_as_unknown(self, session, students):
        with pytest.raises(NotFound) as hidden:
            await visible_student(session, READER, "f000hid")
        with pytest.raises(NotFound) as unknown:
            await visible_student(session, READER, "f000unk")

        assert hidden.value.message == "no student with netid 'f000hid'"
        assert unknown.value.message == "no student with netid 'f000unk'"
        assert hidden.value.problems == unknown.value.problems == []

    async def test_people_private_sees_the_hidden_student(self, session, students):
        assert (await visible_student(session, PRIVATE_READER, "f000hid")).netid == "f000hid"

    async def test_forbidden_before_not_found(self, session, students):
        principal = Principal(sub="f003ghc", scopes=frozenset({PEOPLE_PRIVATE}))
        with pytest.raises(Forbidden):
            await visible_student(session, principal, "f000unk")
