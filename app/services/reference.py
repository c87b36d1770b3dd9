"""Reference data (the SIS calendar, D-plan value lists): any authenticated caller may read it;
it says nothing about any student."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.domain.filters import Condition
from app.repositories.dplans import ReferenceRepository
from app.repositories.terms import SisTermRepository, TermRow, offset_conditions


@dataclass(frozen=True)
class _CurrentTerm:
    id: str
    start: datetime
    end: datetime
    looked_up: float


# The term in progress changes four times a year, yet every request that shows an offset needs
# it: remember it per database while `now` stays inside its range, re-reading at most every
# CURRENT_TERM_TTL seconds so a calendar replaced by `load` in another process is seen soon.
CURRENT_TERM_TTL = 60.0
_current_terms: dict[str, _CurrentTerm] = {}


def forget_current_terms() -> None:
    """Forget the remembered current terms: a database's data was replaced in this process
    (the tests reset their PostgreSQL database between tests, under one URL)."""
    _current_terms.clear()


async def current_term_id(session: AsyncSession, now: datetime) -> str | None:
    """The id of the quarterly term whose range holds `now` (None outside the calendar)."""
    database = str(session.get_bind().engine.url)
    known = _current_terms.get(database)
    if (
        known
        and known.start <= now < known.end
        and time.monotonic() - known.looked_up < (CURRENT_TERM_TTL)
    ):
        return known.id
    row = await SisTermRepository(session).current(now)
    if row is None:
        _current_terms.pop(database, None)
        return None
    _current_terms[database] = _CurrentTerm(row.id, row.start_date, row.end_date, time.monotonic())
    return str(row.id)


def forget_current_term() -> None:
    """Drop what is remembered (after this process replaced the calendar)."""
    _current_terms.clear()


async def sis_terms(
    session: AsyncSession,
    _principal: Principal,
    conditions: Sequence[Condition],
    *,
    current_term_id: str | None,
) -> list[TermRow]:
    rewritten = offset_conditions(conditions, "current_term_offset", "id", current_term_id)
    return await SisTermRepository(session).all(rewritten)


async def sis_terms_by_id(
    session: AsyncSession, _principal: Principal, ids: Sequence[str]
) -> list[TermRow | None]:
    """Each id's SIS term, in the order asked, by one statement (None where no term has it)."""
    if not ids:
        return []
    rows = await SisTermRepository(session).all([Condition("id", "in", list(ids))])
    found = {row.id: row for row in rows}
    return [found.get(term_id) for term_id in ids]


async def dplan_codes(session: AsyncSession, _principal: Principal) -> list[Row[Any]]:
    return await ReferenceRepository(session).dplan_codes()


async def dplan_sources(session: AsyncSession, _principal: Principal) -> list[Row[Any]]:
    return await ReferenceRepository(session).dplan_sources()
