"""Tasks as the doors see them: accepted durably and idempotently, shown to their requester and to
tasks:students:write holders only, and a FERPA-protected student's task only with people:private."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE, Principal
from app.errors import Invalid, NotFound, Problem
from app.models import Task
from app.services import tasks
from tests.conftest import counting_commits
from tests.factories import make_student

ME = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_WRITE, STUDENTS_READ}))
ADMIN = Principal(sub="f000adm", scopes=frozenset({TASKS_WRITE}))
STRANGER = Principal(
    sub="f000str", scopes=frozenset({STUDENTS_WRITE, STUDENTS_READ, PEOPLE_PRIVATE})
)


def with_scopes(principal: Principal, *scopes: str) -> Principal:
    return Principal(sub=principal.sub, scopes=principal.scopes | set(scopes))


async def accept(session, principal=ME, netid="f000abc", payload=None, **kwargs):
    return await tasks.accept(
        session,
        principal,
        resource=kwargs.pop("resource", "students"),
        action=kwargs.pop("action", "PATCH"),
        resource_id=netid,
        payload={"dplans": []} if payload is None else payload,
        **kwargs,
    )


async def task_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(Task))).scalar_one()


@pytest.fixture
async def students(session):
    await make_student(session, netid="f000abc")
    await make_student(session, netid="f000hid", ferpa_protected=True)
    await session.commit()


class TestRequesterOf:
    def test_scopes_in_the_tokens_order_and_claims_as_text(self):
        principal = Principal(
            sub="f003ghc",
            scopes=frozenset({STUDENTS_READ, STUDENTS_WRITE}),
            claims={"name": "Jane Doe", "email": "jane@example.edu", "exp": 1700, "iat": 1600},
            scope_order=(STUDENTS_WRITE, STUDENTS_READ),
        )
        assert tasks.requester_of(principal) == {
            "sub": "f003ghc",
            "name": "Jane Doe",
            "email": "jane@example.edu",
            "scope": f"{STUDENTS_WRITE},{STUDENTS_READ}",
            "exp": "1700",
            "iat": "1600",
        }

    def test_without_an_order_scopes_are_sorted_and_missing_claims_none(self):
        requester = tasks.requester_of(ME)
        assert requester["scope"] == ",".join(sorted(ME.scopes))
        assert [requester[k] for k in ("name", "email", "exp", "iat")] == [None] * 4


class TestAccept:
    async def test_an_accepted_task(self, session):
        before = datetime.now(UTC)
        task = await accept(session, payload={"dplans": [{"term_code": "202301"}]})

        assert (task.status, task.resource, task.action) == ("accepted", "students", "PATCH")
        assert (task.resource_id, task.payload) == (
            "f000abc",
            {"dplans": [{"term_code": "202301"}]},
        )
        assert (task.requester_sub, task.requester) == ("f003ghc", tasks.requester_of(ME))
        assert (task.attempts, task.lease_owner, task.completed_date) == (0, None, None)
        assert before <= task.request_date == task.available_at <= datetime.now(UTC)

    async def test_without_a_key_every_request_is_a_new_task(self, session):
        first = await accept(session)
        second = await accept(session)

        assert first.id < second.id
        assert await task_count(session) == 2

    async def test_same_key_same_request_is_the_same_task(self, session):
        first = await accept(session, payload={"a": 1, "b": [1, 2]}, idempotency_key="k1")
        again = await accept(session, payload={"b": [1, 2], "a": 1}, idempotency_key="k1")

        assert again.id == first.id
        assert await task_count(session) == 1

    @pytest.mark.parametrize(
        "change",
        [{"payload": {"a": 2}}, {"netid": "f000xyz"}, {"action": "PUT"}, {"resource": "plans"}],
        ids=["payload", "resource_id", "action", "resource"],
    )
    async def test_same_key_different_request_is_invalid(self, session, change):
        await accept(session, payload={"a": 1}, idempotency_key="k1")
        with pytest.raises(Invalid) as caught:
            await accept(session, **{"payload": {"a": 1}, **change}, idempotency_key="k1")

        assert [p.loc for p in caught.value.problems] == ["idempotency_key"]
        assert await task_count(session) == 1

    async def test_keys_are_per_requester(self, session):
        mine = await accept(session, idempotency_key="k1")
        theirs = await accept(session, STRANGER, idempotency_key="k1")

        assert mine.id != theirs.id and theirs.requester_sub == "f000str"

    @pytest.mark.parametrize("key", ["", "k" * 256])
    async def test_a_key_of_bad_length_is_invalid(self, session, key):
        with pytest.raises(Invalid) as caught:
            await accept(session, idempotency_key=key)

        assert caught.value.problems == [Problem("idempotency_key", "must be 1 to 255 characters")]
        assert await task_count(session) == 0

    async def test_the_longest_key(self, session):
        task = await accept(session, idempotency_key="k" * 255)
        assert (await accept(session, idempotency_key="k" * 255)).id == task.id


class TestFindTask:
    async def test_the_requester_needs_no_scope(self, session, students):
        task = await accept(session)
        requester = Principal(sub="f003ghc", scopes=frozenset())

        assert (await tasks.find_task(session, requester, task.id)).id == task.id

    async def test_a_tasks_write_holder_sees_anyones(self, session, students):
        task = await accept(session)

        assert (await tasks.find_task(session, ADMIN, task.id)).id == task.id

    async def test_anyone_else_gets_none_like_unknown(self, session, students):
        task = await accept(session)

        assert await tasks.find_task(session, STRANGER, task.id) is None
        assert await tasks.find_task(session, ADMIN, "0" * 24) is None

    @pytest.mark.parametrize("bad", ["", "x" * 24, "A" * 24, "0" * 23, "0" * 25, "../" + "0" * 21])
    async def test_a_malformed_id_is_none(self, session, students, bad):
        assert await tasks.find_task(session, ADMIN, bad) is None

    @pytest.mark.parametrize("who", [ME, ADMIN, with_scopes(ADMIN, STUDENTS_READ)])
    async def test_a_protected_students_task_needs_people_private(self, session, students, who):
        task = await accept(session, netid="f000hid")

        assert await tasks.find_task(session, who, task.id) is None
        found = await tasks.find_task(session, with_scopes(who, PEOPLE_PRIVATE), task.id)
        assert found is not None and found.resource_id == "f000hid"

    async def test_people_private_does_not_make_a_stranger_see_it(self, session, students):
        task = await accept(session, netid="f000hid")

        assert await tasks.find_task(session, STRANGER, task.id) is None

    async def test_only_student_tasks_are_hidden_by_ferpa(self, session, students):
        task = await accept(session, netid="f000hid", resource="plans")

        assert (await tasks.find_task(session, ME, task.id)).id == task.id


class TestVisibleTask:
    async def test_returns_the_task(self, session, students):
        task = await accept(session)

        assert (await tasks.visible_task(session, ME, task.id)).id == task.id

    async def test_hidden_raises_as_unknown(self, session, students):
        hidden = await accept(session, netid="f000hid")
        someone_elses = await accept(session)
        for principal, task_id in [(ME, hidden.id), (STRANGER, someone_elses.id)]:
            with pytest.raises(NotFound) as caught:
                await tasks.visible_task(session, principal, task_id)
            assert caught.value.message == f"no task with id {task_id!r}"


class TestRetention:
    """Finished tasks go TASKS_RETENTION_DAYS after they finished, a batch per transaction;
    unfinished ones never, however old."""

    async def test_old_finished_tasks_go_and_the_rest_stay(self, engine, sessions, session):
        now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
        await make_student(session, netid="f000abc")
        ids = {}
        for name in ("old_complete", "old_error", "recent", "old_unfinished", "running"):
            ids[name] = (await accept(session)).id
        finished = {"old_complete": (400, "complete"), "old_error": (31, "error")}
        finished["recent"] = (29, "complete")
        for name, (days, status) in finished.items():
            done = now - timedelta(days=days)
            await session.execute(
                update(Task).where(Task.id == ids[name]).values(status=status, completed_date=done)
            )
        await session.execute(
            update(Task).where(Task.id == ids["running"]).values(status="running")
        )
        await session.execute(
            update(Task)
            .where(Task.id == ids["old_unfinished"])
            .values(request_date=now - timedelta(days=900))
        )
        await session.commit()
        with counting_commits(engine) as commits:
            deleted = await tasks.prune(sessions, now, 30, batch=1)
        assert deleted == 2
        assert len(commits) == 3  # 1 + 1 + 0: the short batch says nothing older is left
        kept = set((await session.execute(select(Task.id))).scalars())
        assert kept == {ids["recent"], ids["old_unfinished"], ids["running"]}
        assert await tasks.prune(sessions, now, 0) == 0  # 0 keeps them forever
