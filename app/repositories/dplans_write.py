"""D-plan writes: the upsert completed tasks make (a batch of them at once), guarded by the
writing task's id; and the reference ids a write is checked against."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, literal, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.models import DplanCode, DplanSource, SisTerm, Student, StudentDplan


class DplanWriteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, writes: Sequence[Mapping[str, str]], now: datetime) -> None:
        """Set each (netid, term_code) row to its write (netid, term_code, dplan_id,
        dplan_source_id, task_id), unless a later task already wrote it; in one statement.

        Task ids sort in acceptance order, so the guard makes a replayed task a no-op and lets the
        newest accepted task win whatever order applies finish in. Other terms are untouched."""
        # One row per key (a statement may not touch a row twice); the newest task's, as the
        # guard would decide anyway.
        newest: dict[tuple[str, str], Mapping[str, str]] = {}
        for w in sorted(writes, key=lambda w: w["task_id"]):
            newest[(w["netid"], w["term_code"])] = w
        if not newest:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        rows: list[dict[str, Any]] = [{**w, "updated_at": now} for w in newest.values()]
        stmt = insert(StudentDplan).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[StudentDplan.netid, StudentDplan.term_code],
            set_={
                "dplan_id": stmt.excluded.dplan_id,
                "dplan_source_id": stmt.excluded.dplan_source_id,
                "updated_at": stmt.excluded.updated_at,
                "task_id": stmt.excluded.task_id,
            },
            where=or_(StudentDplan.task_id.is_(None), StudentDplan.task_id < stmt.excluded.task_id),
        )
        await self.session.execute(stmt)

    async def reference_ids(
        self, term_codes: Collection[str], netids: Collection[str] = ()
    ) -> dict[str, set[str]]:
        """In one round trip: every D-plan code and source, which of `term_codes` are SIS terms
        and which of `netids` name students. Keys: code, source, term, student."""
        statement = _REFERENCE_IDS_AND_STUDENTS if netids else _REFERENCE_IDS
        params = {"terms": list(term_codes), "netids": list(netids)}
        found: dict[str, set[str]] = {
            "code": set(),
            "source": set(),
            "term": set(),
            "student": set(),
        }
        for kind, value in await fetch_all(self.session, statement, params):
            found[kind].add(value)
        return found


# Built once: accepting a write runs this on every request, and building it costs about as much
# as running it.
_REFERENCE_IDS = union_all(
    select(literal("code").label("kind"), DplanCode.id.label("id")),
    select(literal("source"), DplanSource.id),
    select(literal("term"), SisTerm.id).where(SisTerm.id.in_(bindparam("terms", expanding=True))),
)
_REFERENCE_IDS_AND_STUDENTS: CompoundSelect[tuple[str, str]] = union_all(
    *_REFERENCE_IDS.selects,
    select(literal("student"), Student.netid).where(
        Student.netid.in_(bindparam("netids", expanding=True))
    ),
)
