"""set_dplans, the one service behind setDplans and PATCH: access, validation, the task."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE, Principal
from app.errors import Forbidden, Invalid, NotFound
from app.models import StudentDplan, Task
from app.services import tasks as tasks_service
from app.services.dplans import set_dplans
from tests.factories import make_student
from tests.worker.helpers import seed_payload

ORDER = (STUDENTS_WRITE, TASKS_WRITE, STUDENTS_READ)


def principal(*scopes: str, sub: str = "f003ghc") -> Principal:
    claims = {"exp": 1676913785, "iat": 1676902985, "name": "Integration Test User"}
    return Principal(sub=sub, scopes=frozenset(scopes), claims=claims, scope_order=scopes)


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.fixture
async def student(session):
    await make_student(session, netid="f0027k4")
    await make_student(session, netid="f000hid", ferpa_protected=True)
    await session.commit()


class TestSetDplans:
    async def test_accepts_a_task_and_writes_nothing_else(self, session, student):
        task = await set_dplans(session, principal(*ORDER), "f0027k4", seed_payload())

        assert (task.status, task.resource, task.action) == ("accepted", "students", "PATCH")
        assert task.resource_id == "f0027k4" and task.payload == seed_payload()
        assert task.requester == {
            "sub": "f003ghc",
            "name": "Integration Test User",
            "email": None,
            "scope": ",".join(ORDER),
            "exp": "1676913785",
            "iat": "1676902985",
        }
        assert task.path is None and task.completed_date is None and task.message is None
        assert await count(session, StudentDplan) == 0  # a worker applies it, later

    @pytest.mark.parametrize("scopes", [(STUDENTS_READ,), (STUDENTS_WRITE,), ()])
    async def test_needs_both_student_scopes(self, session, student, scopes):
        with pytest.raises(Forbidden):
            await set_dplans(session, principal(*scopes), "f0027k4", seed_payload())

    async def test_a_hidden_student_is_unknown(self, session, student):
        for netid in ("f000hid", "f000unk"):
            with pytest.raises(NotFound):
                await set_dplans(session, principal(*ORDER), netid, seed_payload())
        allowed = principal(*ORDER, PEOPLE_PRIVATE)
        assert (await set_dplans(session, allowed, "f000hid", seed_payload())).status == "accepted"

    async def test_invalid_creates_no_task(self, session, student):
        body = seed_payload()
        body["dplans"][1]["term_code"] = "202302"
        with pytest.raises(Invalid) as caught:
            await set_dplans(session, principal(*ORDER), "f0027k4", body)
        assert [p.loc for p in caught.value.problems] == ["dplans[1].term_code"]
        assert await count(session, Task) == 0

    async def test_idempotency_key(self, session, student):
        me = principal(*ORDER)
        first = await set_dplans(session, me, "f0027k4", seed_payload(), idempotency_key="k")
        again = await set_dplans(session, me, "f0027k4", seed_payload(), idempotency_key="k")
        assert first.id == again.id
        other = seed_payload()
        other["dplans"].pop()
        with pytest.raises(Invalid):
            await set_dplans(session, me, "f0027k4", other, idempotency_key="k")
        with pytest.raises(Invalid):
            await set_dplans(session, me, "f0027k4", seed_payload(), idempotency_key="")
        assert await count(session, Task) == 1


class TestFindTask:
    async def test_requester_or_tasks_write(self, session, student):
        task = await set_dplans(session, principal(*ORDER), "f0027k4", seed_payload())
        find = tasks_service.find_task
        assert (await find(session, principal(sub="f003ghc"), task.id)) is not None
        assert (await find(session, principal(TASKS_WRITE, sub="x"), task.id)) is not None
        assert (
            await find(
                session, principal(STUDENTS_WRITE, STUDENTS_READ, PEOPLE_PRIVATE, sub="x"), task.id
            )
        ) is None
        assert (await find(session, principal(TASKS_WRITE), "../" + task.id)) is None
