"""The write path's guarantees, proven against real `python -m app worker` processes on
PostgreSQL: kill -9 mid-apply, per-student order, retries, load, idempotency under concurrency."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from app.models import StudentDplan
from tests.factories import make_student
from tests.worker.helpers import accept, dplans_body
from tests.worker.processes import (
    WorkerProcess,
    all_finished,
    apply_log,
    drop_apply_log,
    eventually,
    install_apply_log,
    listeners,
    skip_unless_postgres,
    tasks,
    uncommitted_dplan_writes,
)

TERMS = ("202301", "202303", "202306")
CODES = ("R", "L", "O", "X", "W")


@pytest.fixture(autouse=True)
def _postgres_only(database_url):
    skip_unless_postgres(database_url)


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []

    def start(database_url: str, concurrency: int = 1, **settings) -> WorkerProcess:
        process = WorkerProcess(database_url, concurrency, **settings)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
async def logged(sessions):
    await install_apply_log(sessions)
    yield
    await drop_apply_log(sessions)


async def students(session, *netids: str) -> None:
    for netid in netids:
        await make_student(session, netid=netid)
    await session.commit()


async def dplans_of(sessions) -> dict[tuple[str, str], tuple[str, str | None]]:
    async with sessions() as session:
        rows = (await session.execute(select(StudentDplan))).scalars()
        return {(r.netid, r.term_code): (r.dplan_id, r.task_id) for r in rows}


async def claimed_or_done(sessions) -> str | None:
    """ "claimed" while some task is claimed by a worker, "done" once none is left to do."""
    from app.models import Task

    async with sessions() as session:
        statuses = set((await session.scalars(select(Task.status).distinct())).all())
    if "running" in statuses:
        return "claimed"
    return "done" if statuses <= {"complete", "error"} else None


class TestKilledWorker:
    async def test_sigkill_mid_batch_loses_nothing_and_applies_nothing_twice(
        self, database_url, sessions, session, workers, logged
    ):
        netids = [f"s{i}" for i in range(5)]
        await students(session, *netids)
        body = dplans_body(*((t, "R", "PHL") for t in TERMS[:2]))
        ids = [await accept(sessions, n, body) for n in netids]
        queued = await accept(sessions, "s0", dplans_body((TERMS[0], "X", "PHL")))  # waits for s0's
        doomed = workers(database_url, WORKER_TEST_APPLY_DELAY_SECONDS=60)

        async def held_by_doomed():
            return [t for t in await tasks(sessions) if doomed.owns(t.lease_owner)]

        held = await eventually(held_by_doomed)
        assert sorted(t.id for t in held) == ids  # one batch: the first task of each student
        await eventually(lambda: uncommitted_dplan_writes(sessions))  # mid-apply: written, open
        doomed.kill()
        assert await apply_log(sessions) == []  # the killed transaction left nothing behind

        rescuer = workers(database_url)
        finished = await eventually(lambda: all_finished(sessions))

        assert [t.status for t in finished] == ["complete"] * 6
        by_id = {t.id: t for t in finished}
        assert {by_id[i].attempts for i in ids} == {2}  # taken again once the lease ran out
        assert all(rescuer.owns(by_id[i].lease_owner) for i in [*ids, queued])
        assert by_id[queued].attempts == 1
        # Every task's rows were written exactly once, by a committed apply, in order per student.
        writes = [(row.netid, row.term_code, row.task_id) for row in await apply_log(sessions)]
        assert sorted(writes) == sorted(
            (t.resource_id, d["term_code"], t.id) for t in finished for d in t.payload["dplans"]
        )
        assert [w[2] for w in writes if w[:2] == ("s0", TERMS[0])] == [ids[0], queued]
        assert (await dplans_of(sessions))[("s0", TERMS[0])] == ("X", queued)

    async def test_repeated_sigkill_at_random_instants_under_load(
        self, database_url, sessions, session, workers, logged
    ):
        """Workers killed again and again while batches of a backlog are claimed, applied and
        committed: every task completes, each applied exactly once, in order per student."""
        netids = [f"k{i:02d}" for i in range(40)]
        await students(session, *netids)
        rng = random.Random(8)
        for _ in range(240):
            entries = ((t, rng.choice(CODES), "PHL") for t in rng.sample(TERMS, rng.randint(1, 3)))
            await accept(sessions, rng.choice(netids), dplans_body(*entries))
        settings = {
            "WORKER_TEST_APPLY_DELAY_SECONDS": 0.2,  # each batch's transaction is open a while
            "WORKER_BATCH_SIZE": 10,
            "WORKER_MAX_ATTEMPTS": 100,  # this test kills far more often than a real outage
        }
        alive = [workers(database_url, 2, **settings) for _ in range(2)]
        for _ in range(8):
            await asyncio.sleep(rng.uniform(0.2, 0.6))
            # Each kill lands while some batch is claimed (on a loaded machine workers start
            # slowly, and a kill of one still starting would interrupt nothing).
            if (
                await eventually(lambda: claimed_or_done(sessions), seconds=60, every=0.01)
                == "done"
            ):
                break
            victim = alive.pop(rng.randrange(len(alive)))
            victim.kill()
            alive.append(workers(database_url, 2, **settings))

        finished = await eventually(lambda: all_finished(sessions), seconds=90)

        assert len(finished) == 240 and {t.status for t in finished} == {"complete"}
        assert any(t.attempts > 1 for t in finished)  # the kills did interrupt claimed work
        log = await apply_log(sessions)
        writes = [(row.netid, row.term_code, row.task_id) for row in log]
        assert sorted(writes) == sorted(
            (t.resource_id, d["term_code"], t.id) for t in finished for d in t.payload["dplans"]
        )
        for netid in netids:
            applied = [row.task_id for row in log if row.netid == netid]
            assert applied == sorted(applied)  # acceptance order, per student
        expected: dict[tuple[str, str], tuple[str, str]] = {}
        for task in finished:  # in id order: the last accepted task for a term wins
            for d in task.payload["dplans"]:
                expected[(task.resource_id, d["term_code"])] = (d["dplan_id"], task.id)
        assert await dplans_of(sessions) == expected


class TestOrder:
    async def test_one_student_in_acceptance_order_students_in_parallel(
        self, database_url, sessions, session, workers, logged
    ):
        await students(session, "a1", "b1")
        accepted: dict[str, list[str]] = {"a1": [], "b1": []}
        for code in CODES[:4]:
            for netid in accepted:
                accepted[netid].append(
                    await accept(sessions, netid, dplans_body((TERMS[0], code, "PHL")))
                )
        for _ in range(3):
            workers(database_url, 2, WORKER_TEST_APPLY_DELAY_SECONDS=0.3)

        finished = await eventually(lambda: all_finished(sessions))

        assert {t.status for t in finished} == {"complete"}
        log = await apply_log(sessions)
        for netid, ids in accepted.items():
            assert [row.task_id for row in log if row.netid == netid] == ids
        assert await dplans_of(sessions) == {
            ("a1", TERMS[0]): (CODES[3], accepted["a1"][-1]),
            ("b1", TERMS[0]): (CODES[3], accepted["b1"][-1]),
        }
        # Different students overlapped: one's apply began before the other's finished.
        completed = {t.id: t.completed_date for t in finished}
        windows = {row.task_id: (row.at, completed[row.task_id]) for row in log}
        overlaps = [
            (a, b)
            for a in accepted["a1"]
            for b in accepted["b1"]
            if windows[a][0] < windows[b][1] and windows[b][0] < windows[a][1]
        ]
        assert overlaps


class TestRetries:
    async def test_transient_failure_retries_with_backoff_and_succeeds(
        self, database_url, sessions, session, workers, logged
    ):
        await students(session, "r1")
        task_id = await accept(sessions, "r1", dplans_body((TERMS[0], "R", "PHL")))
        workers(database_url, WORKER_TEST_FAILURES=2, WORKER_MAX_ATTEMPTS=5)

        (task,) = await eventually(lambda: all_finished(sessions))

        assert (task.id, task.status, task.attempts, task.message) == (
            task_id,
            "complete",
            3,
            "success",
        )
        assert [row.task_id for row in await apply_log(sessions)] == [task_id]

    async def test_permanent_failure_ends_in_error_after_the_configured_attempts(
        self, database_url, sessions, session, workers, logged
    ):
        await students(session, "p1")
        await accept(sessions, "p1", dplans_body((TERMS[0], "R", "PHL")))
        workers(database_url, WORKER_TEST_FAILURES=100, WORKER_MAX_ATTEMPTS=3)

        (task,) = await eventually(lambda: all_finished(sessions))

        assert (task.status, task.attempts, task.path) == ("error", 3, None)
        assert task.message.startswith("failed after 3 attempts: injected test failure")
        assert "D-plans were not changed" in task.message
        assert task.completed_date is not None
        assert await apply_log(sessions) == [] and await dplans_of(sessions) == {}


class TestLoad:
    async def test_200_concurrent_requests_across_10_students(
        self, client, database_url, sessions, session, workers, auth
    ):
        netids = [f"load{i:02d}" for i in range(10)]
        await students(session, *netids)
        for _ in range(3):
            workers(database_url, 4)
        rng = random.Random(4)
        bodies = [
            (
                rng.choice(netids),
                dplans_body(
                    *((t, rng.choice(CODES), "PHL") for t in rng.sample(TERMS, rng.randint(1, 3)))
                ),
            )
            for _ in range(200)
        ]
        headers = auth(
            "urn:dartmouth:students:write.sensitive", "urn:dartmouth:students:read.sensitive"
        )

        responses = await asyncio.gather(
            *(client.patch(f"/api/students/{n}", json=b, headers=headers) for n, b in bodies)
        )

        assert [r.status_code for r in responses] == [202] * 200
        finished = await eventually(lambda: all_finished(sessions), seconds=60)
        assert len(finished) == 200 and {t.status for t in finished} == {"complete"}
        expected: dict[tuple[str, str], tuple[str, str]] = {}
        for task in finished:  # in id order: the last accepted task for a term wins
            for d in task.payload["dplans"]:
                expected[(task.resource_id, d["term_code"])] = (d["dplan_id"], task.id)
        assert await dplans_of(sessions) == expected


class TestIdempotencyUnderConcurrency:
    async def test_same_key_ten_times_at_once_is_one_task(self, client, sessions, session, auth):
        await students(session, "i1")
        headers = {**auth(), "Idempotency-Key": "same-key"}
        body = dplans_body((TERMS[0], "R", "PHL"))

        responses = await asyncio.gather(
            *(client.patch("/api/students/i1", json=body, headers=headers) for _ in range(10))
        )

        assert {r.status_code for r in responses} == {202}
        assert len({r.headers["location"] for r in responses}) == 1
        assert {r.content for r in responses} == {b'{"status":"accepted"}'}
        assert len(await tasks(sessions)) == 1
        other = await client.patch(
            "/api/students/i1", json=dplans_body((TERMS[1], "R", "PHL")), headers=headers
        )
        assert other.status_code == 422

    async def test_same_mutation_key_ten_times_at_once(self, client, sessions, session, auth):
        await students(session, "i2")
        query = """mutation($d: [DplanInput!]!) {
          setDplans(netid: "i2", dplans: $d, idempotencyKey: "k") { taskId } }"""
        variables = {"d": [{"termCode": TERMS[0], "dplanId": "R", "dplanSourceId": "PHL"}]}

        responses = await asyncio.gather(
            *(
                client.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=auth()
                )
                for _ in range(10)
            )
        )

        task_ids = {r.json()["data"]["setDplans"]["taskId"] for r in responses}
        assert len(task_ids) == 1 and len(await tasks(sessions)) == 1


class TestWakeUp:
    async def test_an_idle_worker_wakes_on_notify_not_on_its_poll(
        self, database_url, sessions, session, workers
    ):
        await students(session, "n1")
        workers(database_url, WORKER_POLL_SECONDS=600)  # only a notification can wake it in time
        await eventually(lambda: listeners(sessions))
        await asyncio.sleep(0.5)  # past its first (empty) claim: asleep now

        task_id = await accept(sessions, "n1", dplans_body((TERMS[0], "R", "PHL")))

        (task,) = await eventually(lambda: all_finished(sessions), seconds=20)
        assert (task.id, task.status) == (task_id, "complete")
