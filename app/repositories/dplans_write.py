"""D-plan writes: the upsert a completed task makes, guarded by the writing task's id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import literal, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DplanCode, DplanSource, SisTerm, Student, StudentDplan


class DplanWriteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_for_task(
        self, task_id: str, netid: str, changes: Sequence[dict[str, str]], now: datetime
    ) -> None:
        """Set each (netid, term_code) row, unless a later task already wrote it.

        Task ids sort in acceptance order, so the guard makes a replayed task a no-op and lets the
        newest accepted task win whatever order applies finish in. Other terms are untouched."""
        if not changes:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        rows: list[dict[str, Any]] = [
            {
                "netid": netid,
                "term_code": c["term_code"],
                "dplan_id": c["dplan_id"],
                "dplan_source_id": c["dplan_source_id"],
                "updated_at": now,
                "task_id": task_id,
            }
            for c in changes
        ]
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
        self, term_codes: Sequence[str], netid: str | None = None
    ) -> dict[str, set[str]]:
        """In one round trip: every D-plan code and source, which of `term_codes` are SIS terms,
        and (with `netid`) whether that student exists. Keys: code, source, term, student."""
        parts = [
            select(literal("code").label("kind"), DplanCode.id.label("id")),
            select(literal("source"), DplanSource.id),
            select(literal("term"), SisTerm.id).where(SisTerm.id.in_(list(term_codes))),
        ]
        if netid is not None:
            parts.append(select(literal("student"), Student.netid).where(Student.netid == netid))
        found: dict[str, set[str]] = {
            "code": set(),
            "source": set(),
            "term": set(),
            "student": set(),
        }
        for kind, value in (await self.session.execute(union_all(*parts))).all():
            found[kind].add(value)
        return found
