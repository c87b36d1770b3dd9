"""The compat collections as `Source`s: how each finds its keys and loads its rows, through the
services (which decide access: scopes, FERPA)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.domain.filters import Condition
from app.rest.collections import RowsOf, Source
from app.services import found_sets
from app.services import plans as plans_service
from app.services import students as students_service

PLAN_ALIASES = {"netid": "student_netid"}


def _plan_rows(principal: Principal) -> RowsOf:
    async def rows(session: AsyncSession, keys: list[Any]) -> list[Any]:
        page = await plans_service.plans_page(
            session,
            principal,
            [Condition("id", "in", keys)],
            first=len(keys),
            after=None,
            max_page_size=len(keys),
        )
        return list(page.rows)

    return rows


def plans(principal: Principal, conditions: Sequence[Condition]) -> Source:
    """`GET /api/academic/plans`: every plan the caller may see that matches."""

    async def keys(session: AsyncSession) -> list[Any]:
        return list(await found_sets.plan_keys(session, principal, conditions))

    return Source(
        resource="academic/plans",
        keys=keys,
        rows=_plan_rows(principal),
        key_of=lambda row: row.id,
        ignored=found_sets.unknown_plan_fields(conditions),
    )


def student_plans(principal: Principal, netid: str, conditions: Sequence[Condition]) -> Source:
    """`GET /api/students/{netid}/plans`: 404 for an unknown or hidden student."""

    async def keys(session: AsyncSession) -> list[Any]:
        student = await students_service.visible_student(session, principal, netid)
        own = [*conditions, Condition("student_netid", "eq", student.netid)]
        return list(await found_sets.plan_keys(session, principal, own))

    return Source(
        resource=f"students/{netid}/plans",
        keys=keys,
        rows=_plan_rows(principal),
        key_of=lambda row: row.id,
        ignored=found_sets.unknown_plan_fields(conditions),
    )


def student_terms(
    principal: Principal, netid: str, conditions: Sequence[Condition], current_term_id: str | None
) -> Source:
    """`GET /api/students/{netid}/terms`: a handful of rows, so finding the keys loads the rows
    too, and page 1 is served from them without a second read."""
    found: dict[str, Any] = {}

    async def load(session: AsyncSession, extra: Sequence[Condition]) -> list[Any]:
        return await found_sets.terms_found(
            session, principal, netid, extra, current_term_id=current_term_id
        )

    async def keys(session: AsyncSession) -> list[Any]:
        rows = await load(session, conditions)
        found.update((row.id, row) for row in rows)
        return [row.id for row in rows]

    async def rows(session: AsyncSession, wanted: list[Any]) -> list[Any]:
        if found and all(k in found for k in wanted):
            return [found[k] for k in wanted]
        return await load(session, [Condition("id", "in", wanted)])

    return Source(
        resource=f"students/{netid}/terms",
        keys=keys,
        rows=rows,
        key_of=lambda row: row.id,
        ignored=found_sets.unknown_term_fields(conditions),
    )
