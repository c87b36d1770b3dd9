"""Keyset pages of students and plans, shared by the GraphQL connections (REST keeps found sets
of its own): access decided here (the read scope, FERPA visibility), once for both listings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.filters import Condition
from app.errors import Invalid, Problem
from app.repositories import KeysetListing
from app.repositories.plans import PlanRepository, PlanRow
from app.repositories.students import StudentRepository, StudentRow

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    has_next: bool


def check_page_size(first: int, maximum: int) -> None:
    if not 0 <= first <= maximum:
        raise Invalid(
            "page size out of range", [Problem("first", f"must be between 0 and {maximum}")]
        )


def page_of(rows: Sequence[Any], first: int) -> Page[Any]:
    """Repositories fetch `first + 1` rows; the extra one only says another page exists."""
    return Page(rows=rows[:first], has_next=len(rows) > first)


@dataclass(frozen=True)
class Listing(Generic[R]):
    """Students or plans, a page at a time, and how many match."""

    repository: Callable[[AsyncSession], KeysetListing]

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        conditions: Sequence[Condition],
        *,
        first: int,
        after: Any,
        max_page_size: int,
    ) -> Page[R]:
        require_scopes(principal, STUDENTS_READ)
        check_page_size(first, max_page_size)
        rows = await self.repository(session).page(
            conditions, include_protected=sees_protected(principal), after=after, limit=first + 1
        )
        return page_of(rows, first)

    async def count(
        self, session: AsyncSession, principal: Principal, conditions: Sequence[Condition]
    ) -> int:
        require_scopes(principal, STUDENTS_READ)
        return await self.repository(session).count(
            conditions, include_protected=sees_protected(principal)
        )


STUDENTS: Listing[StudentRow] = Listing(StudentRepository)
PLANS: Listing[PlanRow] = Listing(PlanRepository)
