"""Keyset pages of students and plans, shared by the GraphQL connections (REST keeps found sets
of its own): access decided here (the read scope, FERPA visibility), once for both listings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.disclosures import NetidConditions
from app.domain.filters import Condition
from app.errors import Invalid, Problem
from app.repositories import KeysetListing, Window
from app.repositories import students as students_repo
from app.repositories.plans import PlanRepository, PlanRow
from app.repositories.students import StudentRepository, StudentRow

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    has_next: bool
    has_previous: bool = False


@dataclass(frozen=True)
class Slice:
    """What a connection asks for: `first` or `last` rows (one of them), after and/or before
    a key, in an order (a repository's order name, and its direction)."""

    first: int | None
    last: int | None = None
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
    order: str = ""
    descending: bool = False


def check_page_size(first: int, maximum: int, argument: str = "first") -> None:
    if not 0 <= first <= maximum:
        raise Invalid(
            "page size out of range", [Problem(argument, f"must be between 0 and {maximum}")]
        )


def _window(order: str, wanted: Slice, maximum: int) -> Window:
    if wanted.first is not None and wanted.last is not None:
        raise Invalid(
            "page size given twice", [Problem("last", "give `first` or `last`, not both")]
        )
    backward = wanted.last is not None
    size = wanted.last if wanted.last is not None else wanted.first
    assert size is not None
    check_page_size(size, maximum, "last" if backward else "first")
    return Window(
        order, wanted.descending, wanted.after, wanted.before, limit=size + 1, backward=backward
    )


def _page(rows: Sequence[Any], wanted: Slice, window: Window) -> Page[Any]:
    """The extra row says more exist beyond the page's far end. Relay's other flag (is there
    anything before `after`, or past `before`?) is true when that cursor was given."""
    size = window.limit - 1
    more = len(rows) > size
    if window.backward:
        return Page(rows[len(rows) - size :] if more else rows, wanted.before is not None, more)
    return Page(rows[:size], more, wanted.after is not None)


@dataclass(frozen=True)
class Listing(Generic[R]):
    """Students or plans, a page at a time, and how many match."""

    repository: Callable[[AsyncSession], KeysetListing]
    default_order: str
    netid_field: str  # the filter field naming a row's student (a count's netid conditions)

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        conditions: Sequence[Condition],
        *,
        wanted: Slice,
        max_page_size: int,
    ) -> Page[R]:
        require_scopes(principal, STUDENTS_READ)
        repository = self.repository(session)
        window = _window(wanted.order or self.default_order, wanted, max_page_size)
        rows = await repository.page(
            conditions, include_protected=sees_protected(principal), window=window
        )
        return _page(rows, wanted, window)

    async def count(
        self, session: AsyncSession, principal: Principal, conditions: Sequence[Condition]
    ) -> int:
        require_scopes(principal, STUDENTS_READ)
        return await self.repository(session).count(
            conditions, include_protected=sees_protected(principal)
        )

    async def count_disclosing(
        self,
        session: AsyncSession,
        principal: Principal,
        conditions: Sequence[Condition],
        threshold: int,
    ) -> tuple[int, list[str]]:
        """`count`, and the students that count discloses (one statement), by the rule of
        app.domain.disclosures.NetidConditions with k = `threshold`."""
        require_scopes(principal, STUDENTS_READ)
        return await students_repo.count_disclosing(
            self.repository(session),
            conditions,
            NetidConditions.of(conditions, self.netid_field),
            include_protected=sees_protected(principal),
            limit=threshold,
        )


STUDENTS: Listing[StudentRow] = Listing(StudentRepository, "netid", "netid")
PLANS: Listing[PlanRow] = Listing(PlanRepository, "id", "student_netid")
