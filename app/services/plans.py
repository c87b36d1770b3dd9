"""Academic plan reads for every adapter."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.repositories.plans import PlanRepository, PlanRow


def parse_plan_id(plan_id: str) -> int | None:
    """Plan ids are strings of digits; anything else names no plan."""
    return int(plan_id) if plan_id.isascii() and plan_id.isdigit() and len(plan_id) < 19 else None


async def find_plan(session: AsyncSession, principal: Principal, plan_id: str) -> PlanRow | None:
    return (await find_plans(session, principal, [plan_id]))[0]


async def find_plans(
    session: AsyncSession, principal: Principal, plan_ids: Sequence[str]
) -> list[PlanRow | None]:
    """Each id's plan, in the order asked, by one statement: None where no plan has it or its
    student is hidden from this caller."""
    require_scopes(principal, STUDENTS_READ)
    keys = [parse_plan_id(plan_id) for plan_id in plan_ids]
    wanted = [key for key in keys if key is not None]
    if not wanted:
        return [None] * len(keys)
    include_protected = sees_protected(principal)
    rows = await PlanRepository(session).by_ids(wanted, include_protected=include_protected)
    found = {row.id: row for row in rows}
    return [found.get(key) if key is not None else None for key in keys]
