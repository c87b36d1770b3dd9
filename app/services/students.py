"""Student reads for every adapter: access decided once, here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.errors import NotFound
from app.repositories.students import StudentRepository, StudentRow


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
