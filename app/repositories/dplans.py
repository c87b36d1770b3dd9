"""D-plan reads, joined with the code and source descriptions and the SIS term."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.models import DplanCode, DplanSource, SisTerm, StudentDplan
from app.repositories import Record

DplanRow = Record

DPLAN_COLUMNS = (
    StudentDplan.netid,
    StudentDplan.term_code,
    StudentDplan.dplan_id,
    DplanCode.description.label("dplan_description"),
    StudentDplan.dplan_source_id,
    DplanSource.description.label("dplan_source_description"),
    StudentDplan.updated_at,
    SisTerm.name.label("term_name"),
    SisTerm.start_date.label("term_start_date"),
    SisTerm.end_date.label("term_end_date"),
)


# Built once (see students.py).
_BY_NETIDS = (
    select(*DPLAN_COLUMNS)
    .join(DplanCode, DplanCode.id == StudentDplan.dplan_id)
    .join(DplanSource, DplanSource.id == StudentDplan.dplan_source_id)
    .join(SisTerm, SisTerm.id == StudentDplan.term_code)
    .where(StudentDplan.netid.in_(bindparam("netids", expanding=True)))
    .order_by(StudentDplan.netid, StudentDplan.term_code)
)


class DplanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_netids(self, netids: Sequence[str]) -> list[DplanRow]:
        return await fetch_all(self.session, _BY_NETIDS, {"netids": list(netids)})


class ReferenceRepository:
    """The D-plan value lists."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def dplan_codes(self) -> list[Record]:
        stmt = select(DplanCode.id, DplanCode.description).order_by(DplanCode.id)
        return await fetch_all(self.session, stmt)

    async def dplan_sources(self) -> list[Record]:
        stmt = select(DplanSource.id, DplanSource.description).order_by(DplanSource.id)
        return await fetch_all(self.session, stmt)
