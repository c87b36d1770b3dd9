"""Academic plan reads for every adapter."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.repositories.plans import PlanRepository, PlanRow


def parse_plan_id(plan_id: str) -> int | None:
    """Plan ids are strings of digits; anything else names no plan."""
    return int(plan_id) if plan_id.isascii() and plan_id.isdigit() and len(plan_id) < 19 else None


async def find_plan(session: AsyncSession, principal: Principal, plan_id: str) -> PlanRow | None:
    require_scopes(principal, STUDENTS_READ)
    key = parse_plan_id(plan_id)
    if key is None:
        return None
    rows = await PlanRepository(session).by_ids([key], include_protected=sees_protected(principal))
    return rows[0] if rows else None
