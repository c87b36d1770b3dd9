"""DplanWriteRepository, called directly: the ids a payload may name (one round trip), and the
upsert tasks make (a batch at once), guarded by task id (replays are no-ops; the newest accepted
task wins)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.models import StudentDplan
from app.repositories.dplans_write import DplanWriteRepository
from tests.factories import make_dplan, make_student

NETID = "f000001"
IMPORTED = datetime(2023, 2, 20, 14, 34, 11, tzinfo=UTC)
T1, T2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
EARLY, LATE = f"{1:024x}", f"{2:024x}"  # task ids sort in acceptance order


def change(term_code: str, dplan_id: str = "R", source: str = "PHL") -> dict[str, str]:
    return {"term_code": term_code, "dplan_id": dplan_id, "dplan_source_id": source}


async def stored(session, netid: str = NETID) -> dict[str, tuple]:
    """term_code -> (dplan_id, dplan_source_id, updated_at, task_id), read with Core."""
    cols = (StudentDplan.dplan_id, StudentDplan.dplan_source_id, StudentDplan.updated_at)
    stmt = select(StudentDplan.term_code, *cols, StudentDplan.task_id).where(
        StudentDplan.netid == netid
    )
    return {r[0]: tuple(r[1:]) for r in (await session.execute(stmt)).all()}


async def upsert_for_task(repo, task_id: str, netid: str, changes: list[dict], now) -> None:
    await repo.upsert([{**c, "netid": netid, "task_id": task_id} for c in changes], now)


@pytest.fixture
async def repo(session) -> DplanWriteRepository:
    await make_student(session, netid=NETID)
    await make_student(session, netid="f000002")
    await make_dplan(session, NETID, "201801", dplan_id="L", updated_at=IMPORTED)
    await make_dplan(session, "f000002", "202301", updated_at=IMPORTED)
    await session.commit()
    return DplanWriteRepository(session)


class TestReferenceIds:
    async def test_codes_sources_known_terms_and_the_student(self, repo):
        found = await repo.reference_ids(["201801", "209901", "201802"], netids=[NETID])
        assert found == {
            "code": {"R", "L", "O", "X", "W"},
            "source": {"PHL", "STU", "OCP", "DEA"},
            "term": {"201801"},
            "student": {NETID},
        }

    async def test_an_unknown_student_and_no_student_asked(self, repo):
        assert (await repo.reference_ids([], netids=["f999999"]))["student"] == set()
        found = await repo.reference_ids(["202301"])
        assert found["student"] == set() and found["term"] == {"202301"}


class TestUpsert:
    async def test_a_batch_of_students_in_one_statement(self, repo, session):
        writes = [
            {**change("201803", "X"), "netid": NETID, "task_id": EARLY},
            {**change("202301", "W", "DEA"), "netid": "f000002", "task_id": LATE},
        ]
        await repo.upsert(writes, T1)
        assert (await stored(session))["201803"] == ("X", "PHL", T1, EARLY)
        assert await stored(session, "f000002") == {"202301": ("W", "DEA", T1, LATE)}

    async def test_one_key_twice_in_a_batch_is_the_newest_tasks(self, repo, session):
        writes = [
            {**change("201803", "W", "DEA"), "netid": NETID, "task_id": LATE},
            {**change("201803", "X"), "netid": NETID, "task_id": EARLY},
        ]
        await repo.upsert(writes, T1)
        assert (await stored(session))["201803"] == ("W", "DEA", T1, LATE)

    async def test_inserts_and_overwrites_an_imported_row(self, repo, session):
        await upsert_for_task(repo, EARLY, NETID, [change("201801"), change("201803", "X")], T1)
        assert await stored(session) == {
            "201801": ("R", "PHL", T1, EARLY),
            "201803": ("X", "PHL", T1, EARLY),
        }

    async def test_other_terms_and_students_are_untouched(self, repo, session):
        await upsert_for_task(repo, EARLY, NETID, [change("201803")], T1)
        assert (await stored(session))["201801"] == ("L", "PHL", IMPORTED, None)
        assert await stored(session, "f000002") == {"202301": ("R", "PHL", IMPORTED, None)}

    async def test_a_replay_is_a_no_op(self, repo, session):
        await upsert_for_task(repo, EARLY, NETID, [change("201803", "X")], T1)
        await upsert_for_task(repo, EARLY, NETID, [change("201803", "W", "DEA")], T2)
        assert (await stored(session))["201803"] == ("X", "PHL", T1, EARLY)

    async def test_a_later_task_wins(self, repo, session):
        await upsert_for_task(repo, EARLY, NETID, [change("201803", "X")], T1)
        await upsert_for_task(repo, LATE, NETID, [change("201803", "W", "DEA")], T2)
        assert (await stored(session))["201803"] == ("W", "DEA", T2, LATE)

    async def test_an_earlier_task_applied_later_does_not_overwrite(self, repo, session):
        await upsert_for_task(repo, LATE, NETID, [change("201803", "W", "DEA")], T1)
        await upsert_for_task(repo, EARLY, NETID, [change("201803", "X"), change("201806")], T2)
        rows = await stored(session)
        assert rows["201803"] == ("W", "DEA", T1, LATE)
        assert rows["201806"] == ("R", "PHL", T2, EARLY)  # a row nobody wrote yet is still set

    async def test_no_changes_writes_nothing(self, repo, session):
        before = await stored(session)
        await upsert_for_task(repo, LATE, NETID, [], T1)
        assert await stored(session) == before

    async def test_the_writes_are_committed_with_the_session(self, repo, session, sessions):
        await upsert_for_task(repo, EARLY, NETID, [change("201803")], T1)
        await session.commit()
        async with sessions() as other:
            assert (await stored(other))["201803"] == ("R", "PHL", T1, EARLY)
