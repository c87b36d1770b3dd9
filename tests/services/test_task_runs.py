"""The worker's protocol: claim under a lease, take, apply (re-validated today), complete, or fail
(retry after a growing backoff, error once out of attempts or rejected)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event, select, update

from app.auth import STUDENTS_READ, STUDENTS_WRITE, Principal
from app.models import Student, StudentDplan, Task
from app.repositories.tasks import TaskRepository
from app.services import task_runs, tasks
from app.services.task_runs import RetryPolicy, TaskRejected
from tests.factories import make_student
from tests.worker.helpers import seed_payload

ME = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_WRITE, STUDENTS_READ}))
POLICY = RetryPolicy(max_attempts=3, backoff_base_seconds=10)
LEASE = 30.0
NOT_CHANGED = (
    "The student's D-plans were not changed; correct the cause and send the request again."
)


@pytest.fixture
async def students(session):
    await make_student(session, netid="f0027k4")
    await make_student(session, netid="f000abc")
    await session.commit()


async def accepted(session, netid="f0027k4", payload=None, **kwargs):
    return await tasks.accept(
        session,
        ME,
        resource=kwargs.get("resource", "students"),
        action=kwargs.get("action", "PATCH"),
        resource_id=netid,
        payload=seed_payload() if payload is None else payload,
    )


@contextmanager
def counting(engine):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def stored(session, task_id):
    return await TaskRepository(session).by_id(task_id)


async def make_due(session, task_id):
    """Let a retried task's backoff pass."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    await session.execute(update(Task).where(Task.id == task_id).values(available_at=past))


async def claim_one(session, owner, lease):
    rows = await task_runs.claim(session, owner, lease)
    assert len(rows) <= 1
    return rows[0] if rows else None


async def claimed(session, netid="f0027k4", **kwargs):
    task = await accepted(session, netid, **kwargs)
    row = await claim_one(session, "w1", LEASE)
    assert row is not None and row.id == task.id
    return row


def due_between(when: datetime, before: datetime, after: datetime, low: float, high: float) -> bool:
    """Whether `when` is `low` to `high` seconds after a moment between `before` and `after`."""
    return before + timedelta(seconds=low) <= when <= after + timedelta(seconds=high)


class TestClaim:
    async def test_claims_under_a_lease(self, session, students):
        task = await accepted(session)
        before = datetime.now(UTC)
        row = await claim_one(session, "w1", LEASE)
        after = datetime.now(UTC)

        assert row.id == task.id
        assert (row.status, row.lease_owner, row.attempts) == ("running", "w1", 1)
        assert due_between(row.lease_expires_at, before, after, LEASE, LEASE)

    async def test_nothing_to_claim(self, session, students):
        assert await claim_one(session, "w1", LEASE) is None

    async def test_a_leased_task_is_not_claimed_again(self, session, students):
        await claimed(session)

        assert await claim_one(session, "w2", LEASE) is None

    async def test_an_expired_lease_is_claimed_again(self, session, students):
        task = await accepted(session)
        await claim_one(session, "w1", -1)

        row = await claim_one(session, "w2", LEASE)

        assert (row.id, row.lease_owner, row.attempts) == (task.id, "w2", 2)

    async def test_oldest_first_and_one_at_a_time_per_student(self, session, students):
        first = await accepted(session, "f0027k4")
        await accepted(session, "f0027k4")
        other = await accepted(session, "f000abc")

        assert (await claim_one(session, "w1", LEASE)).id == first.id
        assert (await claim_one(session, "w2", LEASE)).id == other.id
        assert await claim_one(session, "w3", LEASE) is None

    async def test_a_batch_takes_the_oldest_one_per_student(self, session, students):
        first = await accepted(session, "f0027k4")
        await accepted(session, "f0027k4")
        other = await accepted(session, "f000abc")

        rows = await task_runs.claim(session, "w1", LEASE, limit=10)

        assert [r.id for r in rows] == [first.id, other.id]
        assert {(r.status, r.lease_owner, r.attempts) for r in rows} == {("running", "w1", 1)}
        assert await task_runs.claim(session, "w2", LEASE, limit=10) == []

    async def test_a_batch_is_at_most_its_limit(self, session, students):
        first = await accepted(session, "f0027k4")
        second = await accepted(session, "f000abc")

        assert [r.id for r in await task_runs.claim(session, "w1", LEASE, limit=1)] == [first.id]
        assert [r.id for r in await task_runs.claim(session, "w1", LEASE, limit=1)] == [second.id]


class TestTake:
    async def test_only_the_lease_holder_takes_it(self, session, students):
        task = await claimed(session)

        assert [t.id for t in await task_runs.take(session, [task], "w1")] == [task.id]
        assert await task_runs.take(session, [task], "w2") == []

    async def test_not_once_finished(self, session, students):
        task = await claimed(session)
        assert await task_runs.complete(session, [task], "w1")

        assert await task_runs.take(session, [task], "w1") == []


class TestApply:
    async def test_writes_the_dplans(self, session, students):
        task = await claimed(session)
        assert await task_runs.apply(session, [task]) == {}

        rows = await session.execute(
            select(StudentDplan.term_code, StudentDplan.dplan_id, StudentDplan.task_id)
            .where(StudentDplan.netid == "f0027k4")
            .order_by(StudentDplan.term_code)
        )
        assert [tuple(r) for r in rows] == [("202301", "R", task.id), ("202303", "R", task.id)]

    async def test_a_deleted_student_is_rejected(self, session, students):
        task = await claimed(session)
        await session.execute(delete(Student).where(Student.netid == "f0027k4"))

        rejected = await task_runs.apply(session, [task])
        assert str(rejected[task.id]) == "student f0027k4 no longer exists; nothing was changed"

    async def test_a_request_no_longer_valid_is_rejected(self, session, students):
        payload = seed_payload()
        payload["dplans"][0]["dplan_id"] = "Q"  # not a D-plan code (today)
        task = await claimed(session, payload=payload)

        rejected = await task_runs.apply(session, [task])
        assert re.match(
            r"the request is no longer valid \(dplans\[0\]\.dplan_id: ", str(rejected[task.id])
        )
        assert (await session.execute(select(StudentDplan.netid))).first() is None

    async def test_another_kind_of_task_is_rejected(self, session, students):
        task = await claimed(session, action="PUT")

        rejected = await task_runs.apply(session, [task])
        assert str(rejected[task.id]) == "this worker cannot apply PUT students"

    async def test_a_batch_writes_the_good_and_returns_the_rejected(self, session, students):
        bad = seed_payload()
        bad["dplans"][1]["dplan_source_id"] = "NOPE"
        good = await accepted(session, "f0027k4")
        rejected = await accepted(session, "f000abc", payload=bad)
        batch = await task_runs.claim(session, "w1", LEASE, limit=10)

        reasons = await task_runs.apply(session, batch)

        assert list(reasons) == [rejected.id]
        assert "dplans[1].dplan_source_id" in str(reasons[rejected.id])
        rows = await session.execute(select(StudentDplan.netid, StudentDplan.task_id).distinct())
        assert [tuple(r) for r in rows] == [("f0027k4", good.id)]

    async def test_statements_do_not_grow_with_tasks_or_dplans(self, session, students, engine):
        """One reference lookup and one upsert, whatever the batch holds."""
        for i in range(12):
            await make_student(session, netid=f"g{i:03d}")
        many = {
            "dplans": [
                {"term_code": t, "dplan_id": "R", "dplan_source_id": "PHL"}
                for t in ("202301", "202303", "202306", "202309")
            ]
        }
        counts = []
        for netids, payload in ((["f0027k4"], None), ([f"g{i:03d}" for i in range(12)], many)):
            for netid in netids:
                await accepted(session, netid, payload=payload)
            batch = await task_runs.claim(session, "w1", LEASE, limit=50)
            assert len(batch) == len(netids)
            with counting(engine) as statements:
                assert await task_runs.apply(session, batch) == {}
                assert await task_runs.complete(session, batch, "w1")
            counts.append(len(statements))
        # The lookup, the D-plans' records before, the upsert, their records after, the
        # disclosure records, (PostgreSQL) the capture lock and notification, the change
        # entries, the completion and (PostgreSQL) its one notification.
        assert counts[0] == counts[1] == (9 if engine.dialect.name == "postgresql" else 7)


class TestComplete:
    async def test_records_success(self, session, students):
        task = await claimed(session)
        before = datetime.now(UTC)

        assert await task_runs.complete(session, [task], "w1") is True

        row = await stored(session, task.id)
        assert (row.status, row.path, row.message) == (
            "complete",
            "/api/students/f0027k4",
            "success",
        )
        assert row.lease_expires_at is None and before <= row.completed_date <= datetime.now(UTC)

    async def test_a_lost_lease_records_nothing(self, session, students):
        task = await claimed(session)

        assert await task_runs.complete(session, [task], "w2") is False
        assert (await stored(session, task.id)).status == "running"


class TestFail:
    async def test_a_failure_is_retried_after_a_backoff(self, session, students):
        task = await claimed(session)
        before = datetime.now(UTC)
        status = await task_runs.fail(session, task, "w1", RuntimeError("boom"), POLICY)
        after = datetime.now(UTC)

        row = await stored(session, task.id)
        assert status == row.status == "accepted"
        assert row.lease_expires_at is None and row.completed_date is None
        assert due_between(row.available_at, before, after, 8, 12)  # 10 s, +-20% jitter
        assert re.fullmatch(r"attempt 1 of 3 failed: boom; retrying in \d+\.\ds", row.message)
        assert await claim_one(session, "w2", LEASE) is None  # not yet due

    async def test_the_backoff_doubles_with_each_attempt(self, session, students):
        task = await claimed(session)
        await task_runs.fail(session, task, "w1", RuntimeError("boom"), POLICY)
        await make_due(session, task.id)
        again = await claim_one(session, "w1", LEASE)
        before = datetime.now(UTC)
        await task_runs.fail(session, again, "w1", RuntimeError("boom"), POLICY)

        row = await stored(session, task.id)
        assert due_between(row.available_at, before, datetime.now(UTC), 16, 24)  # 20 s +-20%
        assert row.message.startswith("attempt 2 of 3 failed: boom; retrying in ")

    async def test_the_backoff_is_capped(self, session, students):
        task = await claimed(session)
        before = datetime.now(UTC)
        await task_runs.fail(session, task, "w1", RuntimeError("boom"), RetryPolicy(5, 1000))

        row = await stored(session, task.id)
        assert due_between(row.available_at, before, datetime.now(UTC), 240, 360)  # 300 s +-20%

    async def test_an_error_once_out_of_attempts(self, session, students):
        task = await claimed(session)
        for _ in range(POLICY.max_attempts - 1):
            assert await task_runs.fail(session, task, "w1", ValueError("boom"), POLICY) == (
                "accepted"
            )
            await make_due(session, task.id)
            task = await claim_one(session, "w1", LEASE)

        assert await task_runs.fail(session, task, "w1", ValueError("boom"), POLICY) == "error"
        row = await stored(session, task.id)
        assert (row.status, row.attempts) == ("error", 3)
        assert row.message == f"failed after 3 attempts: boom. {NOT_CHANGED}"
        assert row.completed_date is not None and row.lease_expires_at is None
        assert await claim_one(session, "w1", LEASE) is None

    async def test_a_rejected_task_is_an_error_at_once(self, session, students):
        task = await claimed(session)
        reason = TaskRejected("student f0027k4 no longer exists; nothing was changed")

        assert await task_runs.fail(session, task, "w1", reason, POLICY) == "error"
        row = await stored(session, task.id)
        assert row.message == (
            f"failed: student f0027k4 no longer exists; nothing was changed. {NOT_CHANGED}"
        )

    async def test_a_lost_lease_is_lost(self, session, students):
        task = await claimed(session)

        assert await task_runs.fail(session, task, "w2", RuntimeError(), POLICY) == "lost"
        assert (await stored(session, task.id)).status == "running"

    @pytest.mark.parametrize(
        ("exc", "reason"),
        [(TimeoutError(), "TimeoutError"), (RuntimeError("  "), "RuntimeError")],
    )
    async def test_an_empty_reason_names_the_exception(self, session, students, exc, reason):
        task = await claimed(session)
        await task_runs.fail(session, task, "w1", exc, POLICY)

        assert (await stored(session, task.id)).message.startswith(
            f"attempt 1 of 3 failed: {reason};"
        )

    async def test_a_long_reason_is_cut_to_300_characters(self, session, students):
        task = await claimed(session)
        await task_runs.fail(session, task, "w1", RuntimeError("x" * 1000), POLICY)

        message = (await stored(session, task.id)).message
        assert f": {'x' * 297}...; retrying in " in message
        assert "x" * 298 not in message


class TestNextWakeAt:
    async def test_none_without_waiting_tasks(self, session, students):
        assert await task_runs.next_wake_at(session) is None
        await accepted(session)  # due now: a claim takes it, nothing to wait for
        assert await task_runs.next_wake_at(session) is None

    async def test_a_leases_end(self, session, students):
        task = await claimed(session)

        assert await task_runs.next_wake_at(session) == task.lease_expires_at

    async def test_a_retrys_time(self, session, students):
        task = await claimed(session)
        await task_runs.fail(session, task, "w1", RuntimeError("boom"), POLICY)

        assert (
            await task_runs.next_wake_at(session) == (await stored(session, task.id)).available_at
        )

    async def test_the_earliest_of_both(self, session, students):
        retried = await claimed(session, "f0027k4")
        await task_runs.fail(session, retried, "w1", RuntimeError("boom"), POLICY)  # in ~10 s
        leased = await claimed(session, "f000abc")  # lease ends in 30 s

        wake = await task_runs.next_wake_at(session)
        assert wake == (await stored(session, retried.id)).available_at < leased.lease_expires_at


class TestQueueState:
    async def test_waiting_tasks_and_the_oldest_ones_wait(self, session, students):
        assert await task_runs.queue_state(session) == task_runs.QueueState(0, 0, 0.0)
        await accepted(session)
        await accepted(session, netid="f000abc")
        await session.commit()
        await claim_one(session, "w/0", 30)
        await session.commit()
        state = await task_runs.queue_state(session)
        assert (state.accepted, state.running) == (1, 1)
        assert 0 <= state.oldest_accepted_seconds < 60
