"""Synthetic data: the same seed gives the same rows whatever the chunk size, running it again
replaces them, and nothing is committed by the service itself."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from app.models import AcademicPlan, Student, StudentDplan, StudentTerm
from app.services import generator
from tests.services.test_importer import dump_database

TABLES = {
    "students": Student,
    "student_terms": StudentTerm,
    "plans": AcademicPlan,
    "dplans": StudentDplan,
}


async def row_counts(session) -> dict[str, int]:
    return {
        name: (await session.execute(select(func.count()).select_from(model))).scalar_one()
        for name, model in TABLES.items()
    }


class TestBuildChunk:
    def test_same_seed_same_rows(self):
        one = generator.build_chunk(random.Random(7), 0, 4)
        two = generator.build_chunk(random.Random(7), 0, 4)

        assert one == two
        assert one != generator.build_chunk(random.Random(8), 0, 4)

    def test_chunks_continue_the_same_draw(self):
        whole = generator.build_chunk(random.Random(7), 0, 4)
        rng = random.Random(7)
        halves = [generator.build_chunk(rng, 0, 2), generator.build_chunk(rng, 2, 2)]

        assert {name: halves[0][name] + halves[1][name] for name in whole} == whole

    def test_ids_of_their_own(self):
        tables = generator.build_chunk(random.Random(7), 0, 3)

        assert [s["netid"] for s in tables["students"]] == ["sg000001", "sg000002", "sg000003"]
        assert all(p["id"] >= generator.FIRST_PLAN_ID for p in tables["plans"])
        plan_ids = [p["id"] for p in tables["plans"]]
        term_ids = [t["id"] for t in tables["student_terms"]]
        assert len(set(plan_ids)) == len(plan_ids) and len(set(term_ids)) == len(term_ids)


class TestGenerate:
    async def test_writes_what_it_counts(self, session):
        counts = await generator.generate(session, students=5, seed=3)

        assert counts["students"] == 5
        assert counts == await row_counts(session)
        netids = (await session.execute(select(Student.netid).order_by(Student.netid))).scalars()
        assert list(netids) == [generator.netid(i) for i in range(5)]

    async def test_again_with_any_chunk_size_changes_nothing(self, session):
        counts = await generator.generate(session, students=5, seed=3, chunk=5)
        first = await dump_database(session)

        assert await generator.generate(session, students=5, seed=3, chunk=2) == counts
        assert await dump_database(session) == first

    async def test_another_seed_other_rows(self, session):
        await generator.generate(session, students=5, seed=3)
        first = await dump_database(session)
        await generator.generate(session, students=5, seed=4)

        assert (await dump_database(session))["students"] != first["students"]

    async def test_progress_after_each_chunk(self, session):
        done: list[int] = []
        await generator.generate(session, students=5, seed=3, chunk=2, progress=done.append)

        assert done == [2, 4, 5]

    async def test_never_commits(self, session, sessions):
        await generator.generate(session, students=3, seed=3)
        await session.rollback()

        async with sessions() as fresh:
            assert (await row_counts(fresh))["students"] == 0

    async def test_no_students(self, session):
        assert await generator.generate(session, students=0) == {}
        assert (await row_counts(session))["students"] == 0
