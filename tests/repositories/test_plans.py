"""PlanRepository, called directly: reads by id (FERPA visibility decided in the statement), by
student and by parent, keyset pages in numeric id order, filters and counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.filters import Condition
from app.errors import Invalid
from app.repositories import Window
from app.repositories.plans import PLAN_COLUMNS, PlanRepository
from tests.factories import make_plan, make_student

ADA, HIDDEN = "f000001", "f000hid"
LATE = datetime(2022, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
async def repo(session) -> PlanRepository:
    await make_student(session, netid=ADA)
    await make_student(session, netid="f000002")
    await make_student(session, netid=HIDDEN, ferpa_protected=True)
    # Ids 9 < 10 < 100 < 1000: numeric order differs from text order.
    await make_plan(session, ADA, id=100, department="ECON")
    await make_plan(session, ADA, id=9, type="Minor", department="MATH", parent_id=100)
    await make_plan(session, ADA, id=1000, parent_id=100, updated=True, updated_at=LATE)
    await make_plan(session, "f000002", id=10, state="approved", dropped=True, department=None)
    await make_plan(session, HIDDEN, id=11, department="ECON")
    await session.commit()
    return PlanRepository(session)


async def ids(repo: PlanRepository, conditions=(), *, include_protected=False) -> list[int]:
    rows = await repo.page(
        conditions, include_protected=include_protected, window=Window("id", after=None, limit=100)
    )
    return [row.id for row in rows]


class TestPlanRepository:
    async def test_by_ids_reads_every_column(self, repo):
        (row,) = await repo.by_ids([1000], include_protected=False)
        assert row._fields == tuple(c.key for c in PLAN_COLUMNS)
        assert (row.id, row.parent_id, row.student_netid) == (1000, 100, ADA)
        assert row.updated is True and row.dropped is False
        assert row.updated_at == LATE

    async def test_by_ids_skips_unknown_ids(self, repo):
        rows = await repo.by_ids([9, 123456, 10], include_protected=False)
        assert sorted(r.id for r in rows) == [9, 10]
        assert await repo.by_ids([], include_protected=True) == []

    async def test_by_ids_hides_a_protected_students_plan_unless_included(self, repo):
        assert await repo.by_ids([11], include_protected=False) == []
        (row,) = await repo.by_ids([11], include_protected=True)
        assert row.student_netid == HIDDEN

    async def test_by_netids_in_id_order(self, repo):
        rows = await repo.by_netids([ADA, "f000002"])
        assert [(r.id, r.student_netid) for r in rows] == [
            (9, ADA),
            (10, "f000002"),
            (100, ADA),
            (1000, ADA),
        ]
        assert await repo.by_netids(["f999999"]) == []

    async def test_by_parent_ids_in_id_order(self, repo):
        rows = await repo.by_parent_ids([100, 9], include_protected=True)
        assert [(r.id, r.parent_id) for r in rows] == [(9, 100), (1000, 100)]
        assert await repo.by_parent_ids([], include_protected=False) == []


class TestPlanPages:
    async def test_pages_follow_numeric_id_order(self, repo):
        first = await repo.page(
            [], include_protected=True, window=Window("id", after=None, limit=3)
        )
        assert [r.id for r in first] == [9, 10, 11]
        rest = await repo.page(
            [], include_protected=True, window=Window("id", after=(first[-1].id,), limit=3)
        )
        assert [r.id for r in rest] == [100, 1000]
        assert (
            await repo.page([], include_protected=True, window=Window("id", after=(1000,), limit=3))
            == []
        )

    async def test_a_page_hides_protected_students_plans(self, repo):
        assert await ids(repo) == [9, 10, 100, 1000]
        assert await ids(repo, include_protected=True) == [9, 10, 11, 100, 1000]

    async def test_count(self, repo):
        econ = [Condition("department", "eq", "ECON")]
        assert await repo.count(econ, include_protected=False) == 2  # 100 and 1000 (default)
        assert await repo.count(econ, include_protected=True) == 3
        assert await repo.count([], include_protected=False) == 4


class TestPlanFilters:
    async def test_an_id_prefix_compares_digits_as_text(self, repo):
        assert await ids(repo, [Condition("id", "prefix", "10")]) == [10, 100, 1000]
        assert await ids(repo, [Condition("id", "prefix", "9")]) == [9]

    async def test_ids_compare_as_numbers(self, repo):
        assert await ids(repo, [Condition("id", "gt", "9")]) == [10, 100, 1000]
        assert await ids(repo, [Condition("id", "in", ["9", "1000"])]) == [9, 1000]
        assert await ids(repo, [Condition("parent_id", "eq", 100)]) == [9, 1000]

    async def test_flags_take_y_and_n(self, repo):
        assert await ids(repo, [Condition("updated", "eq", "Y")]) == [1000]
        assert await ids(repo, [Condition("dropped", "eq", "true")]) == [10]
        assert await ids(repo, [Condition("dropped", "eq", "N")]) == [9, 100, 1000]

    async def test_updated_at_is_an_instant(self, repo):
        assert await ids(repo, [Condition("updated_at", "gte", "2022-01-01")]) == [1000]
        # 2022-06-01T12:00Z is 08:00 at UTC-4: the same instant.
        same = Condition("updated_at", "eq", "2022-06-01T08:00:00-04:00")
        assert await ids(repo, [same]) == [1000]

    async def test_text_fields(self, repo):
        assert await ids(repo, [Condition("type", "eq", "Minor")]) == [9]
        assert await ids(repo, [Condition("state", "prefix", "app")]) == [10]
        assert await ids(repo, [Condition("department", "in", ["MATH", "ECON"])]) == [9, 100, 1000]
        assert await ids(repo, [Condition("student_netid", "eq", "f000002")]) == [10]

    async def test_values_that_do_not_fit_are_named(self, repo):
        conditions = [
            Condition("id", "eq", "abc"),
            Condition("updated", "eq", "maybe"),
            Condition("parent_id", "prefix", "1"),
        ]
        with pytest.raises(Invalid) as caught:
            await ids(repo, conditions)
        assert [p.loc for p in caught.value.problems] == ["id", "updated", "parent_id"]
