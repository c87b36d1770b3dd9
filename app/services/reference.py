"""Reference data (the SIS calendar, D-plan value lists): any authenticated caller may read it;
it says nothing about any student."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.domain.filters import Condition
from app.repositories.dplans import ReferenceRepository
from app.repositories.terms import SisTermRepository, TermRow, offset_conditions


async def current_term_id(session: AsyncSession, now: datetime) -> str | None:
    return await SisTermRepository(session).current_id(now)


async def sis_terms(
    session: AsyncSession,
    _principal: Principal,
    conditions: Sequence[Condition],
    *,
    current_term_id: str | None,
) -> list[TermRow]:
    rewritten = offset_conditions(conditions, "current_term_offset", "id", current_term_id)
    return await SisTermRepository(session).all(rewritten)


async def dplan_codes(session: AsyncSession, _principal: Principal) -> list[Row[Any]]:
    return await ReferenceRepository(session).dplan_codes()


async def dplan_sources(session: AsyncSession, _principal: Principal) -> list[Row[Any]]:
    return await ReferenceRepository(session).dplan_sources()
