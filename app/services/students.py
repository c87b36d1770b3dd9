"""Student reads for every adapter: access decided once, here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.errors import NotFound
from app.repositories.students import StudentRepository, StudentRow


async def find_student(
    session: AsyncSession, principal: Principal, netid: str
) -> StudentRow | None:
    """The student, or None when unknown or hidden from this caller (the two look the same)."""
    return (await find_students(session, principal, [netid]))[0]


async def find_students(
    session: AsyncSession, principal: Principal, netids: Sequence[str]
) -> list[StudentRow | None]:
    """Each netid's student, in the order asked, by one statement: None where unknown or
    hidden from this caller, as `find_student` answers (a supergraph's references to students,
    app/graphql/federation.py)."""
    require_scopes(principal, STUDENTS_READ)
    if not netids:
        return []
    repository = StudentRepository(session)
    rows = await repository.by_netids(netids, include_protected=sees_protected(principal))
    found = {row.netid: row for row in rows}
    return [found.get(netid) for netid in netids]


async def visible_student(session: AsyncSession, principal: Principal, netid: str) -> StudentRow:
    student = await find_student(session, principal, netid)
    if student is None:
        raise NotFound(f"no student with netid {netid!r}")
    return student
