"""Student reads for every adapter: access decided once, here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.filters import Condition
from app.errors import NotFound
from app.repositories.students import StudentRepository, StudentRow
from app.services.paging import Page, check_page_size, page_of


async def find_student(
    session: AsyncSession, principal: Principal, netid: str
) -> StudentRow | None:
    """The student, or None when unknown or hidden from this caller (the two look the same)."""
    require_scopes(principal, STUDENTS_READ)
    return await StudentRepository(session).by_netid(
        netid, include_protected=sees_protected(principal)
    )


async def visible_student(session: AsyncSession, principal: Principal, netid: str) -> StudentRow:
    student = await find_student(session, principal, netid)
    if student is None:
        raise NotFound(f"no student with netid {netid!r}")
    return student


async def students_page(
    session: AsyncSession,
    principal: Principal,
    conditions: Sequence[Condition],
    *,
    first: int,
    after: str | None,
    max_page_size: int,
) -> Page[StudentRow]:
    require_scopes(principal, STUDENTS_READ)
    check_page_size(first, max_page_size)
    rows = await StudentRepository(session).page(
        conditions, include_protected=sees_protected(principal), after=after, limit=first + 1
    )
    return page_of(rows, first)


async def count_students(
    session: AsyncSession, principal: Principal, conditions: Sequence[Condition]
) -> int:
    require_scopes(principal, STUDENTS_READ)
    return await StudentRepository(session).count(
        conditions, include_protected=sees_protected(principal)
    )
