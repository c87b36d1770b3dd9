"""The worker in this process, on SQLite and PostgreSQL: claims, leases, retries, the apply
guard, and a worker process that stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, event, select, update

from app.cli import main as cli_main
from app.config import Settings
from app.models import Student, StudentDplan, Task
from app.repositories.dplans_write import DplanWriteRepository
from app.worker import Worker
from tests.factories import disclosure_row, make_student, student_records
from tests.worker.helpers import accept, dplans_body
from tests.worker.processes import WorkerProcess, eventually, tasks

TERM = "202301"


def worker_for(settings: Settings, engine, sessions, **overrides) -> Worker:
    return Worker(settings.model_copy(update=overrides), engine, sessions, concurrency=1)


@contextmanager
def counting_round_trips(engine) -> Iterator[list[str]]:
    """Every statement the engine sends, BEGIN and COMMIT included."""
    trips: list[str] = []
    sync = engine.sync_engine

    def statement(_conn, _cursor, sql, *_args):
        trips.append(sql)

    handlers = {
        "before_cursor_execute": statement,
        "begin": lambda _conn: trips.append("BEGIN"),
        "commit": lambda _conn: trips.append("COMMIT"),
    }
    for name, handler in handlers.items():
        event.listen(sync, name, handler)
    try:
        yield trips
    finally:
        for name, handler in handlers.items():
            event.remove(sync, name, handler)


async def task_row(sessions, task_id: str) -> Task:
    async with sessions() as session:
        row = await session.get(Task, task_id)
        assert row is not None
        return row


async def dplan(sessions, netid: str, term: str) -> StudentDplan | None:
    async with sessions() as session:
        return await session.get(StudentDplan, (netid, term))


class TestWorker:
    async def test_applies_in_acceptance_order(self, settings, engine, sessions, session):
        await make_student(session, netid="w1")
        await session.commit()
        first = await accept(sessions, "w1", dplans_body((TERM, "R", "PHL")))
        second = await accept(sessions, "w1", dplans_body((TERM, "L", "STU")))
        worker = worker_for(settings, engine, sessions)

        assert await worker.run_one("test/0") and await worker.run_one("test/0")
        assert not await worker.run_one("test/0")

        done = [await task_row(sessions, t) for t in (first, second)]
        assert [t.status for t in done] == ["complete", "complete"]
        assert done[0].completed_date <= done[1].completed_date
        row = await dplan(sessions, "w1", TERM)
        assert (row.dplan_id, row.dplan_source_id, row.task_id) == ("L", "STU", second)

    async def test_an_applied_write_is_recorded_as_its_requesters_disclosure(
        self, settings, engine, sessions, session
    ):
        await make_student(session, netid="w1")
        await session.commit()
        task_id = await accept(sessions, "w1", dplans_body((TERM, "R", "PHL")))
        assert await worker_for(settings, engine, sessions).run_one("test/0")
        async with sessions() as s:
            (record,) = await student_records(s)
        requester = (await task_row(sessions, task_id)).requester
        assert (record.netid, record.sub, record.request_id) == ("w1", requester["sub"], task_id)
        assert (record.operation, record.record_types) == ("apply PATCH students", "dplans")
        assert record.scopes == requester["scope"]

    async def test_a_later_task_waits_for_an_earlier_unfinished_one(
        self, settings, engine, sessions, session
    ):
        await make_student(session, netid="w2")
        await make_student(session, netid="w3")
        await session.commit()
        held = await accept(sessions, "w2", dplans_body((TERM, "R", "PHL")))
        waiting = await accept(sessions, "w2", dplans_body((TERM, "L", "PHL")))
        other = await accept(sessions, "w3", dplans_body((TERM, "L", "PHL")))
        now = datetime.now(UTC)
        async with sessions() as s, s.begin():  # another worker holds `held`, its lease valid
            lease = {"status": "running", "lease_owner": "elsewhere/0", "attempts": 1}
            lease["lease_expires_at"] = now + timedelta(minutes=5)
            await s.execute(update(Task).where(Task.id == held).values(**lease))
        worker = worker_for(settings, engine, sessions)

        assert await worker.run_one("test/0")  # the other student's task, not `waiting`
        assert not await worker.run_one("test/0")

        assert (await task_row(sessions, other)).status == "complete"
        assert (await task_row(sessions, waiting)).status == "accepted"

    async def test_an_expired_lease_is_taken_again(self, settings, engine, sessions, session):
        await make_student(session, netid="w4")
        await session.commit()
        task_id = await accept(sessions, "w4", dplans_body((TERM, "R", "PHL")))
        async with sessions() as s, s.begin():  # claimed by a worker that then died
            expired = datetime.now(UTC) - timedelta(seconds=1)
            await s.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(
                    status="running", lease_owner="dead/0", attempts=1, lease_expires_at=expired
                )
            )

        assert await worker_for(settings, engine, sessions).run_one("test/0")

        task = await task_row(sessions, task_id)
        assert (task.status, task.attempts, task.lease_owner) == ("complete", 2, "test/0")

    async def test_transient_failure_is_retried(self, settings, engine, sessions, session):
        await make_student(session, netid="w5")
        await session.commit()
        task_id = await accept(sessions, "w5", dplans_body((TERM, "R", "PHL")))
        worker = worker_for(
            settings, engine, sessions, worker_test_failures=1, worker_backoff_base_seconds=0.01
        )

        assert await worker.run_one("test/0")
        retrying = await task_row(sessions, task_id)
        assert retrying.status == "accepted"
        assert retrying.message.startswith("attempt 1 of 5 failed: injected test failure")
        assert await dplan(sessions, "w5", TERM) is None  # the failed attempt wrote nothing
        await asyncio.sleep(0.05)  # past the backoff
        assert await worker.run_one("test/0")

        task = await task_row(sessions, task_id)
        assert (task.status, task.attempts, task.message) == ("complete", 2, "success")

    async def test_out_of_attempts_is_an_error(self, settings, engine, sessions, session):
        await make_student(session, netid="w6")
        await session.commit()
        task_id = await accept(sessions, "w6", dplans_body((TERM, "R", "PHL")))
        worker = worker_for(
            settings,
            engine,
            sessions,
            worker_test_failures=9,
            worker_max_attempts=2,
            worker_backoff_base_seconds=0.01,
        )

        assert await worker.run_one("test/0")
        await asyncio.sleep(0.05)
        assert await worker.run_one("test/0")

        task = await task_row(sessions, task_id)
        assert (task.status, task.attempts, task.path) == ("error", 2, None)
        assert task.message.startswith("failed after 2 attempts: injected test failure")

    async def test_a_vanished_student_fails_at_once(self, settings, engine, sessions, session):
        await make_student(session, netid="w7")
        await session.commit()
        task_id = await accept(sessions, "w7", dplans_body((TERM, "R", "PHL")))
        async with sessions() as s, s.begin():
            await s.execute(delete(Student).where(Student.netid == "w7"))

        assert await worker_for(settings, engine, sessions).run_one("test/0")

        task = await task_row(sessions, task_id)
        assert (task.status, task.attempts) == ("error", 1)
        assert task.message.startswith("failed: student w7 no longer exists")


class TestApplyGuard:
    async def test_an_earlier_task_never_overwrites_a_later_one(self, sessions, session):
        await make_student(session, netid="g1")
        await session.commit()
        now = datetime.now(UTC)
        later = {"term_code": TERM, "dplan_id": "L", "dplan_source_id": "STU"}
        earlier = {"term_code": TERM, "dplan_id": "R", "dplan_source_id": "PHL"}
        async with sessions() as s, s.begin():
            repo = DplanWriteRepository(s)
            await repo.upsert([{**later, "netid": "g1", "task_id": "b" * 24}], now)
            # Late but older: a no-op; then a replay: no change.
            await repo.upsert([{**earlier, "netid": "g1", "task_id": "a" * 24}], now)
            await repo.upsert([{**later, "netid": "g1", "task_id": "b" * 24}], now)
        row = await dplan(sessions, "g1", TERM)
        assert (row.dplan_id, row.task_id) == ("L", "b" * 24)


class TestWorkerProcess:
    async def test_sigterm_finishes_the_task_in_hand_and_exits_0(
        self, database_url, sessions, session
    ):
        await make_student(session, netid="t1")
        await session.commit()
        task_id = await accept(sessions, "t1", dplans_body((TERM, "R", "PHL")))
        process = WorkerProcess(
            database_url, WORKER_TEST_APPLY_DELAY_SECONDS=1.0, WORKER_POLL_SECONDS=0.2
        )
        try:

            async def running():
                return [t for t in await tasks(sessions) if t.status == "running"]

            await eventually(running)
            assert process.terminate() == 0
        finally:
            process.stop()
        task = await task_row(sessions, task_id)
        assert (task.status, task.message) == ("complete", "success")


class TestSettings:
    def test_production_refuses_fault_injection(self):
        secret = "x" * 40
        with pytest.raises(ValidationError, match="WORKER_TEST"):
            Settings(environment="production", jwt_secret=secret, worker_test_failures=1)
        with pytest.raises(ValidationError, match="WORKER_TEST"):
            Settings(environment="production", jwt_secret=secret, worker_test_apply_delay_seconds=1)

    def test_one_slot_on_sqlite(self, monkeypatch, capsys, tmp_path):
        monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
        assert cli_main(["worker", "--concurrency", "2"]) == 1
        assert "single writer" in capsys.readouterr().err


async def test_nothing_is_claimed_from_an_empty_queue(settings, engine, sessions):
    assert not await worker_for(settings, engine, sessions).run_one("test/0")
    async with sessions() as session:
        assert (await session.execute(select(Task))).first() is None


class TestWakeUps:
    async def test_an_announcement_while_going_to_sleep_is_not_lost(
        self, settings, engine, sessions
    ):
        worker = worker_for(settings, engine, sessions, worker_poll_seconds=600)
        real_seconds_to_next = worker._seconds_to_next

        async def announced_meanwhile() -> float:
            await real_seconds_to_next()
            worker._wake_one()  # new work is announced while the slot reads its next wake time
            return 600.0

        worker._seconds_to_next = announced_meanwhile
        # Woken at once by the announcement; before the fix this slept the whole 600 s poll.
        await asyncio.wait_for(worker._sleep(asyncio.Event()), timeout=10)
        assert worker._idle == []

    async def test_an_announcement_while_every_slot_is_busy_is_not_lost(
        self, settings, engine, sessions
    ):
        worker = worker_for(settings, engine, sessions, worker_poll_seconds=600)
        worker._wake_one()  # no slot is idle: remembered for the next one to go to sleep
        await asyncio.wait_for(worker._sleep(asyncio.Event()), timeout=10)


class TestBatches:
    async def test_one_claim_applies_a_batch_in_constant_statements(
        self, settings, engine, sessions, session
    ):
        """Statements per batch do not grow with its tasks or their D-plans: 1 task of 1 D-plan
        and 30 tasks of 4 cost the same (BEGIN and COMMIT counted too)."""
        netids = [f"b{i:02d}" for i in range(30)]
        for netid in ["solo", *netids]:
            await make_student(session, netid=netid)
        await session.commit()
        worker = worker_for(settings, engine, sessions, worker_batch_size=50)
        four = [(t, "X", "DEA") for t in ("202301", "202303", "202306", "202309")]
        counts = []
        for batch in (["solo"], netids):
            ids = [
                await accept(sessions, n, dplans_body(*(four if len(batch) > 1 else four[:1])))
                for n in batch
            ]
            with counting_round_trips(engine) as trips:
                assert await worker.run_one("test/0")
            counts.append(len(trips))
            assert {(await task_row(sessions, i)).status for i in ids} == {"complete"}
        assert counts[0] == counts[1]
        # Claim: BEGIN, UPDATE, (notify), COMMIT; apply: BEGIN, lock, lookup, the D-plans'
        # records before, upsert, their records after, the disclosure records, (the capture
        # lock and notify), the change entries, complete, (notify), COMMIT. PostgreSQL sends the
        # notifications; SQLite's are in process.
        assert counts[0] == (16 if engine.dialect.name == "postgresql" else 13)

    async def test_a_failing_batch_is_retried_task_by_task(
        self, settings, engine, sessions, session, monkeypatch
    ):
        """One task whose apply fails makes only itself retry; its batch-mates complete."""
        for netid in ("ok1", "bad", "ok2"):
            await make_student(session, netid=netid)
        await session.commit()
        ids = {
            n: await accept(sessions, n, dplans_body((TERM, "R", "PHL")))
            for n in ("ok1", "bad", "ok2")
        }
        worker = worker_for(settings, engine, sessions, worker_batch_size=50)

        async def fail_for_bad(tasks):
            if any(t.resource_id == "bad" for t in tasks):
                raise RuntimeError("the disk is full")

        monkeypatch.setattr(worker.faults, "during_apply", fail_for_bad)
        assert await worker.run_one("test/0")

        rows = {n: await task_row(sessions, i) for n, i in ids.items()}
        assert (rows["ok1"].status, rows["ok2"].status) == ("complete", "complete")
        assert (rows["bad"].status, rows["bad"].attempts) == ("accepted", 1)
        assert rows["bad"].message.startswith("attempt 1 of 5 failed: the disk is full")
        assert await dplan(sessions, "bad", TERM) is None


async def test_an_outage_is_said_once_and_its_end_too(settings, engine, sessions, caplog):
    """However many slots and polls meet it: one line when it starts, one when it ends, and no
    traceback; the slots live on."""
    worker = Worker(
        settings.model_copy(update={"worker_poll_seconds": 0.01}), engine, sessions, concurrency=2
    )
    calls = 0

    async def run_one(owner: str) -> bool:
        nonlocal calls
        calls += 1
        if calls <= 10:
            raise ConnectionRefusedError("connection refused")
        return False

    worker.run_one = run_one  # type: ignore[method-assign]
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="app.worker"):
        running = asyncio.create_task(worker.run(stop))

        async def recovered() -> bool:
            return calls > 20

        await eventually(recovered)
        stop.set()
        await running
    said = [r.getMessage() for r in caplog.records if r.name == "app.worker"]
    assert said.count("the database is unavailable; retrying") == 1
    assert said.count("the database is back") == 1
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("prunes", [True, False])
async def test_a_pruning_worker_applies_the_retention_at_start(
    settings, engine, sessions, session, prunes
):
    """Disclosure records past DISCLOSURE_RETENTION_DAYS and tasks finished more than
    TASKS_RETENTION_DAYS ago go at the worker's start (only a pruning worker's)."""
    from app.repositories.disclosures import DisclosureRepository

    now = datetime.now(UTC)
    rows = [disclosure_row("old", now - timedelta(days=400)), disclosure_row("new", now)]
    await DisclosureRepository(session).add(rows)
    await make_student(session, netid="f000old")
    await session.commit()
    finished = await accept(sessions, "f000old", dplans_body((TERM, "R", "PHL")))
    await session.execute(
        update(Task)
        .where(Task.id == finished)
        .values(status="complete", completed_date=now - timedelta(days=31))
    )
    await session.commit()
    keeping = settings.model_copy(
        update={"disclosure_retention_days": 365, "tasks_retention_days": 30}
    )
    worker = Worker(keeping, engine, sessions, prunes=prunes)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))

    async def left() -> tuple[list[str], list[str]]:
        async with sessions() as reading:
            netids = [r.netid for r in await student_records(reading)]
            task_ids = (await reading.execute(select(Task.id))).scalars().all()
        return sorted(netids), list(task_ids)

    expected = (["new"], []) if prunes else (["new", "old"], [finished])
    try:
        for _ in range(100):
            if await left() == expected or not prunes:
                break
            await asyncio.sleep(0.1)
        if not prunes:
            await asyncio.sleep(0.5)  # time enough for a retention that should not run
    finally:
        stop.set()
        await running
    assert await left() == expected
