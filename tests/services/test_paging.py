"""Keyset pages of students and plans: page size checked, `first + 1` rows say whether a next page
exists, FERPA-protected students (and their plans) absent without people:private."""

from __future__ import annotations

import pytest

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, Principal
from app.domain.filters import Condition
from app.errors import Forbidden, Invalid
from app.services.paging import PLANS, STUDENTS, Slice, check_page_size
from tests.factories import make_plan, make_student

READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ}))
PRIVATE_READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ, PEOPLE_PRIVATE}))
MAX = 10


@pytest.fixture
async def world(session):
    """Students a01, a02, a04, a05 and FERPA-protected a03 (in the middle of key order); plans
    101..105, one per student in the same order, so 103 is the hidden student's."""
    for n in range(1, 6):
        netid = f"f000a0{n}"
        await make_student(session, netid=netid, class_year=2020 + n, ferpa_protected=n == 3)
        await make_plan(session, netid, id=100 + n, department="ECON" if n % 2 else "GOVT")
    await session.commit()


async def keys(listing, session, principal, *, first=MAX, after=None, conditions=()):
    wanted = Slice(first=first, after=None if after is None else (after,))
    page = await listing.page(
        session, principal, list(conditions), wanted=wanted, max_page_size=MAX
    )
    key = "netid" if listing is STUDENTS else "id"
    return [getattr(row, key) for row in page.rows], page.has_next


class TestCheckPageSize:
    @pytest.mark.parametrize("first", [0, 1, MAX])
    def test_in_range(self, first):
        check_page_size(first, MAX)

    @pytest.mark.parametrize("first", [-1, MAX + 1])
    def test_out_of_range(self, first):
        with pytest.raises(Invalid) as caught:
            check_page_size(first, MAX)
        [problem] = caught.value.problems
        assert (problem.loc, problem.message) == ("first", f"must be between 0 and {MAX}")


class TestStudentsPage:
    async def test_pages_in_key_order(self, session, world):
        assert await keys(STUDENTS, session, READER, first=2) == (["f000a01", "f000a02"], True)
        assert await keys(STUDENTS, session, READER, first=2, after="f000a02") == (
            ["f000a04", "f000a05"],
            False,
        )

    async def test_a_page_that_ends_the_list_has_no_next(self, session, world):
        assert await keys(STUDENTS, session, READER, first=4) == (
            ["f000a01", "f000a02", "f000a04", "f000a05"],
            False,
        )
        assert await keys(STUDENTS, session, READER, after="f000a05") == ([], False)

    async def test_first_zero_only_says_whether_rows_exist(self, session, world):
        assert await keys(STUDENTS, session, READER, first=0) == ([], True)
        assert await keys(STUDENTS, session, READER, first=0, after="f000a05") == ([], False)

    async def test_people_private_sees_the_hidden_student(self, session, world):
        netids, has_next = await keys(STUDENTS, session, PRIVATE_READER, first=3)
        assert (netids, has_next) == (["f000a01", "f000a02", "f000a03"], True)

    async def test_conditions_filter(self, session, world):
        later = [Condition("class_year", "gte", 2023)]
        assert await keys(STUDENTS, session, READER, conditions=later) == (
            ["f000a04", "f000a05"],
            False,
        )

    @pytest.mark.parametrize("first", [-1, MAX + 1])
    async def test_page_size_checked(self, session, world, first):
        with pytest.raises(Invalid):
            await keys(STUDENTS, session, READER, first=first)


class TestPlansPage:
    async def test_pages_skip_the_hidden_students_plan(self, session, world):
        assert await keys(PLANS, session, READER, first=2) == ([101, 102], True)
        assert await keys(PLANS, session, READER, first=2, after=102) == ([104, 105], False)

    async def test_people_private_sees_it(self, session, world):
        assert await keys(PLANS, session, PRIVATE_READER, first=2, after=102) == ([103, 104], True)

    async def test_conditions_filter(self, session, world):
        econ = [Condition("department", "eq", "ECON")]
        assert await keys(PLANS, session, READER, conditions=econ) == ([101, 105], False)
        assert await keys(PLANS, session, PRIVATE_READER, conditions=econ) == (
            [101, 103, 105],
            False,
        )


class TestCount:
    @pytest.mark.parametrize("listing", [STUDENTS, PLANS], ids=["students", "plans"])
    async def test_counts_what_the_caller_may_see(self, session, world, listing):
        assert await listing.count(session, READER, []) == 4
        assert await listing.count(session, PRIVATE_READER, []) == 5

    async def test_counts_what_matches(self, session, world):
        econ = [Condition("department", "eq", "ECON")]
        assert await PLANS.count(session, READER, econ) == 2
        assert await STUDENTS.count(session, READER, [Condition("class_year", "lt", 2023)]) == 2
        assert await STUDENTS.count(session, READER, [Condition("netid", "eq", "f000zzz")]) == 0


@pytest.mark.parametrize("listing", [STUDENTS, PLANS], ids=["students", "plans"])
@pytest.mark.parametrize("scopes", [(), (STUDENTS_WRITE,), (PEOPLE_PRIVATE,)])
class TestReadScopeRequired:
    async def test_page(self, session, world, listing, scopes):
        principal = Principal(sub="f003ghc", scopes=frozenset(scopes))
        with pytest.raises(Forbidden, match=STUDENTS_READ):
            await keys(listing, session, principal)

    async def test_before_the_page_size(self, session, world, listing, scopes):
        principal = Principal(sub="f003ghc", scopes=frozenset(scopes))
        with pytest.raises(Forbidden):
            await keys(listing, session, principal, first=MAX + 1)

    async def test_count(self, session, world, listing, scopes):
        principal = Principal(sub="f003ghc", scopes=frozenset(scopes))
        with pytest.raises(Forbidden, match=STUDENTS_READ):
            await listing.count(session, principal, [])
