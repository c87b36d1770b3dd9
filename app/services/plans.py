"""Academic plan reads for every adapter."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.filters import Condition
from app.repositories.plans import PlanRepository, PlanRow
from app.services.paging import Page, check_page_size, page_of


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


async def plans_page(
    session: AsyncSession,
    principal: Principal,
    conditions: Sequence[Condition],
    *,
    first: int,
    after: int | None,
    max_page_size: int,
) -> Page[PlanRow]:
    require_scopes(principal, STUDENTS_READ)
    check_page_size(first, max_page_size)
    rows = await PlanRepository(session).page(
        conditions, include_protected=sees_protected(principal), after=after, limit=first + 1
    )
    return page_of(rows, first)


async def count_plans(
    session: AsyncSession, principal: Principal, conditions: Sequence[Condition]
) -> int:
    require_scopes(principal, STUDENTS_READ)
    return await PlanRepository(session).count(
        conditions, include_protected=sees_protected(principal)
    )
