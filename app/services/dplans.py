"""Setting a student's D-plans: the one service behind `setDplans` and the students PATCH.

It decides everything a caller can be told at once (scopes, the netid, every dplan) and then
accepts a task; a worker applies it later. Never commits: the door commits before answering."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, STUDENTS_WRITE, Principal, require_scopes
from app.domain.dplans import KnownIds, check_shape, term_codes_in, validate_dplans
from app.repositories.dplans_write import DplanWriteRepository
from app.services import tasks as tasks_service
from app.services.students import visible_student
from app.services.tasks import TaskRow


async def known_ids(
    session: AsyncSession, term_codes: Collection[str], netids: Collection[str] = ()
) -> tuple[KnownIds, set[str]]:
    """The reference ids D-plan bodies naming `term_codes` may use, today, and which of `netids`
    name students (one round trip). Used when a request is accepted and again, for a batch of
    tasks at once, when they are applied."""
    found = await DplanWriteRepository(session).reference_ids(term_codes, netids)
    known = KnownIds(codes=found["code"], sources=found["source"], terms=found["term"])
    return known, found["student"]


async def set_dplans(
    session: AsyncSession,
    principal: Principal,
    netid: str,
    body: Any,
    *,
    idempotency_key: str | None = None,
) -> TaskRow:
    """Validate a D-plan PATCH body (`{"dplans": [...]}`) for `netid` and accept a task for it.

    403 without write.sensitive and read.sensitive; Invalid for a body of the wrong shape or
    past MAX_DPLANS entries (before the database is asked); NotFound for an unknown netid or a
    protected student the caller may not see; Invalid naming every bad entry and field. Nothing
    is written to the student here: the returned task (status `accepted`) is applied by a
    worker."""
    require_scopes(principal, STUDENTS_WRITE, STUDENTS_READ)
    check_shape(body)  # its limits before the database is asked anything
    student = await visible_student(session, principal, netid)
    known, _ = await known_ids(session, term_codes_in(body))
    validate_dplans(body, known)
    return await tasks_service.accept(
        session,
        principal,
        resource="students",
        action="PATCH",
        resource_id=student.netid,
        payload=body,
        idempotency_key=idempotency_key,
    )
