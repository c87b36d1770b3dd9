"""Writes of reference data."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import reference_data
from app.models import DplanCode, DplanSource, LmsTerm, SisTerm, TermDescription
from app.repositories.upsert import upsert


async def seed_missing_reference_data(session: AsyncSession) -> None:
    """Insert the default calendar and value lists where absent; rows already there (perhaps
    replaced by `load`) are left as they are, so running it again changes nothing."""
    tables = [
        (SisTerm, reference_data.sis_terms()),
        (TermDescription, reference_data.TERM_DESCRIPTIONS),
        (LmsTerm, reference_data.lms_terms()),
        (DplanCode, reference_data.DPLAN_CODES),
        (DplanSource, reference_data.DPLAN_SOURCES),
    ]
    for model, rows in tables:
        await upsert(session, model.__table__, rows, update=False)  # type: ignore[arg-type]
