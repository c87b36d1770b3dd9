"""Student reads for every adapter: access decided once, here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.filters import Condition
from app.errors import NotFound
from app.repositories.dplans import DplanRepository, DplanRow
from app.repositories.students import StudentRepository, StudentRow
from app.repositories.terms import TermRepository, TermRow, offset_conditions
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


async def terms_of(
    session: AsyncSession,
    principal: Principal,
    netid: str,
    *,
    conditions: Sequence[Condition] = (),
    current_term_id: str | None = None,
) -> list[TermRow]:
    """A visible student's terms (NotFound for an unknown or hidden netid)."""
    student = await visible_student(session, principal, netid)
    rewritten = offset_conditions(
        conditions, "quarterly_term.current_term_offset", "quarterly_term.id", current_term_id
    )
    return await TermRepository(session).by_netids([student.netid], rewritten)


async def student_with_dplans(
    session: AsyncSession, principal: Principal, netid: str
) -> tuple[StudentRow, list[DplanRow]]:
    """A visible student and its D-plans (NotFound for an unknown or hidden netid)."""
    student = await visible_student(session, principal, netid)
    return student, await DplanRepository(session).by_netids([student.netid])
