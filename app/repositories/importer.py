"""SQL for `load`, `demo` and `generate`: which referenced keys exist, and bulk upserts by table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.models import (
    AcademicPlan,
    DplanCode,
    DplanSource,
    LmsTerm,
    SisTerm,
    Student,
    StudentDplan,
    StudentTerm,
    TermDescription,
)
from app.repositories.upsert import upsert

# Keys per `IN (...)` list: well under SQLite's bound-parameter limit.
_CHUNK = 10_000

# The tables a load writes, in an order in which every foreign key holds.
TABLES: dict[str, Table] = {
    "sis_terms": SisTerm.__table__,  # type: ignore[dict-item]
    "dplan_codes": DplanCode.__table__,  # type: ignore[dict-item]
    "dplan_sources": DplanSource.__table__,  # type: ignore[dict-item]
    "students": Student.__table__,  # type: ignore[dict-item]
    "lms_terms": LmsTerm.__table__,  # type: ignore[dict-item]
    "term_descriptions": TermDescription.__table__,  # type: ignore[dict-item]
    "student_terms": StudentTerm.__table__,  # type: ignore[dict-item]
    "plans": AcademicPlan.__table__,  # type: ignore[dict-item]
    "dplans": StudentDplan.__table__,  # type: ignore[dict-item]
}

# What a file may refer to without defining it, by the key column that must already hold it.
KEYS: dict[str, InstrumentedAttribute[Any]] = {
    "student": Student.netid,
    "SIS term": SisTerm.id,
    "plan": AcademicPlan.id,
    "D-plan code": DplanCode.id,
    "D-plan source": DplanSource.id,
}


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def existing(self, kind: str, keys: Iterable[Any]) -> set[Any]:
        """Those of `keys` already stored as a `kind` (a key of KEYS)."""
        column = KEYS[kind]
        found: set[Any] = set()
        for chunk in _chunks(sorted(set(keys))):
            result = await self.session.execute(select(column).where(column.in_(chunk)))
            found.update(result.scalars())
        return found

    async def dplan_values(self, netids: Iterable[str]) -> dict[tuple[str, str], Any]:
        """These students' stored D-plans: (netid, term_code) -> (code, source, updated_at)."""
        found: dict[tuple[str, str], tuple[str, str, datetime]] = {}
        for chunk in _chunks(sorted(set(netids))):
            stmt = select(
                StudentDplan.netid,
                StudentDplan.term_code,
                StudentDplan.dplan_id,
                StudentDplan.dplan_source_id,
                StudentDplan.updated_at,
            ).where(StudentDplan.netid.in_(chunk))
            for row in await self.session.execute(stmt):
                found[(row.netid, row.term_code)] = (
                    row.dplan_id,
                    row.dplan_source_id,
                    row.updated_at,
                )
        return found

    async def upsert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace `rows` of one of TABLES (each row carrying the same columns)."""
        await upsert(self.session, TABLES[table], rows)
