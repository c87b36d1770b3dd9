"""StudentRepository, called directly: batch reads by netid, keyset pages, filters, counts, and
FERPA visibility (a protected student is absent, exactly like an unknown one)."""

from __future__ import annotations

import pytest

from app.domain.filters import Condition
from app.errors import Invalid
from app.repositories import Window
from app.repositories.students import STUDENT_COLUMNS, StudentRepository
from tests.factories import make_student

HIDDEN = "f000004"
VISIBLE = ["f000001", "f000002", "f000003", "f0_0005", "f0x0006"]


@pytest.fixture
async def repo(session) -> StudentRepository:
    people = [
        ("f000001", "Ada", "Lovelace", 2020, "UG"),
        ("f000002", "Alan", "Turing", 2021, "UG"),
        ("f000003", "Grace", "Hopper", 2022, "GR"),
        ("f0_0005", "Edsger", "Dijkstra", 2021, "GR"),
        ("f0x0006", "Barbara", "Liskov", 2023, "UG"),
    ]
    for netid, first, last, year, school in people:
        await make_student(
            session,
            netid=netid,
            first_name=first,
            last_name=last,
            class_year=year,
            school_code=school,
        )
    await make_student(session, netid=HIDDEN, last_name="Secret", ferpa_protected=True)
    await session.commit()
    return StudentRepository(session)


async def netids(repo: StudentRepository, conditions=(), *, include_protected=False) -> list[str]:
    rows = await repo.page(
        conditions,
        include_protected=include_protected,
        window=Window("netid", after=None, limit=100),
    )
    return [row.netid for row in rows]


class TestStudentRepository:
    async def test_by_netids_reads_the_known_ones(self, repo):
        rows = await repo.by_netids(["f000002", "f999999", "f000001"], include_protected=False)
        assert sorted(r.netid for r in rows) == ["f000001", "f000002"]
        ada = next(r for r in rows if r.netid == "f000001")
        assert ada._fields == tuple(c.key for c in STUDENT_COLUMNS)
        assert (ada.first_name, ada.middle_name, ada.last_name) == ("Ada", None, "Lovelace")
        assert (ada.class_year, ada.school_code, ada.ferpa_protected) == (2020, "UG", False)

    async def test_by_netids_hides_a_protected_student_unless_included(self, repo):
        assert await repo.by_netids([HIDDEN], include_protected=False) == []
        (row,) = await repo.by_netids([HIDDEN], include_protected=True)
        assert row.netid == HIDDEN and row.ferpa_protected is True

    async def test_by_netids_of_nothing(self, repo):
        assert await repo.by_netids([], include_protected=True) == []

    async def test_by_netid(self, repo):
        assert (await repo.by_netid("f000003", include_protected=False)).last_name == "Hopper"
        assert await repo.by_netid("f999999", include_protected=True) is None
        assert await repo.by_netid(HIDDEN, include_protected=False) is None
        assert (await repo.by_netid(HIDDEN, include_protected=True)).netid == HIDDEN


class TestStudentPages:
    async def test_pages_follow_the_key_order(self, repo):
        first = await repo.page(
            [], include_protected=False, window=Window("netid", after=None, limit=2)
        )
        assert [r.netid for r in first] == VISIBLE[:2]
        second = await repo.page(
            [], include_protected=False, window=Window("netid", after=(first[-1].netid,), limit=2)
        )
        assert [r.netid for r in second] == VISIBLE[2:4]
        rest = await repo.page(
            [], include_protected=False, window=Window("netid", after=(second[-1].netid,), limit=2)
        )
        assert [r.netid for r in rest] == VISIBLE[4:]
        assert (
            await repo.page(
                [], include_protected=False, window=Window("netid", after=(VISIBLE[-1],), limit=2)
            )
            == []
        )

    async def test_after_need_not_be_a_netid_that_exists(self, repo):
        rows = await repo.page(
            [], include_protected=False, window=Window("netid", after=("f000002a",), limit=1)
        )
        assert [r.netid for r in rows] == ["f000003"]

    async def test_after_and_conditions_combine(self, repo):
        grad = [Condition("school_code", "eq", "GR")]
        rows = await repo.page(
            grad, include_protected=False, window=Window("netid", after=("f000003",), limit=5)
        )
        assert [r.netid for r in rows] == ["f0_0005"]

    async def test_a_page_hides_protected_students_unless_included(self, repo):
        assert HIDDEN not in await netids(repo)
        assert await netids(repo, include_protected=True) == sorted([*VISIBLE, HIDDEN])

    async def test_limit_zero_is_an_empty_page(self, repo):
        assert (
            await repo.page([], include_protected=True, window=Window("netid", after=None, limit=0))
            == []
        )


class TestStudentFilters:
    async def test_class_year_range_and_school(self, repo):
        conditions = [Condition("class_year", "gte", "2021"), Condition("school_code", "eq", "UG")]
        assert await netids(repo, conditions) == ["f000002", "f0x0006"]

    async def test_in_lists(self, repo):
        conditions = [Condition("class_year", "in", [2020, 2022])]
        assert await netids(repo, conditions) == ["f000001", "f000003"]
        assert await netids(repo, [Condition("netid", "in", [])]) == []

    async def test_name_matches_either_name_by_prefix_in_any_case(self, repo):
        assert await netids(repo, [Condition("name", "prefix", "lOVE")]) == ["f000001"]
        assert await netids(repo, [Condition("name", "prefix", "al")]) == ["f000002"]
        assert await netids(repo, [Condition("name", "prefix", "Secret")]) == []

    async def test_a_prefix_matches_like_wildcards_literally(self, repo):
        assert await netids(repo, [Condition("netid", "prefix", "f0_")]) == ["f0_0005"]
        assert await netids(repo, [Condition("name", "prefix", "%")]) == []

    async def test_a_prefix_match_is_case_sensitive(self, repo, session, request):
        """The GraphQL StringFilter says `startsWith` is case-sensitive (it is on PostgreSQL)."""
        assert await netids(repo, [Condition("last_name", "prefix", "lovelace")]) == []

    async def test_unknown_fields_are_ignored(self, repo):
        assert await netids(repo, [Condition("shoe_size", "eq", "9")]) == VISIBLE

    async def test_a_value_that_does_not_fit_is_invalid(self, repo):
        with pytest.raises(Invalid) as caught:
            await netids(repo, [Condition("class_year", "eq", "soon")])
        assert [p.loc for p in caught.value.problems] == ["class_year"]


class TestStudentCount:
    async def test_counts_what_pages_list(self, repo):
        conditions = [Condition("school_code", "eq", "GR")]
        assert await repo.count(conditions, include_protected=False) == 2
        assert await repo.count([], include_protected=False) == len(VISIBLE)
        assert await repo.count([], include_protected=True) == len(VISIBLE) + 1

    async def test_a_protected_student_is_not_counted(self, repo):
        conditions = [Condition("name", "prefix", "secret")]
        assert await repo.count(conditions, include_protected=False) == 0
        assert await repo.count(conditions, include_protected=True) == 1
