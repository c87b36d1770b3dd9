"""Term reads: a student's terms joined with their LMS, quarterly and part-of-term rows in one
statement; the SIS calendar; and the term current at a given instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.domain import terms as calendar
from app.domain.filters import Condition
from app.errors import Invalid, Problem
from app.models import LmsTerm, SisTerm, StudentTerm, TermDescription
from app.repositories import Record
from app.repositories.filtering import Field, compile_conditions, to_int

TermRow = Record

STUDENT_TERM_COLUMNS = (
    StudentTerm.id,
    StudentTerm.netid,
    StudentTerm.term_id,
    StudentTerm.school_id,
    StudentTerm.start_date,
    StudentTerm.end_date,
    StudentTerm.lms_term_id,
    LmsTerm.name.label("lms_term_name"),
    LmsTerm.is_course_send_enabled.label("lms_is_course_send_enabled"),
    LmsTerm.is_enroll_send_enabled.label("lms_is_enroll_send_enabled"),
    StudentTerm.quarterly_term_id,
    SisTerm.name.label("quarterly_term_name"),
    SisTerm.start_date.label("quarterly_term_start_date"),
    SisTerm.end_date.label("quarterly_term_end_date"),
    StudentTerm.term_description_id,
    TermDescription.name.label("term_description_name"),
)
STUDENT_TERM_FIELDS = {
    "id": Field(StudentTerm.id),
    "term_id": Field(StudentTerm.term_id, prefixable=True),
    "school_id": Field(StudentTerm.school_id),
    "lms_term.id": Field(StudentTerm.lms_term_id, prefixable=True),
    "quarterly_term.id": Field(StudentTerm.quarterly_term_id, prefixable=True),
    "term_description.id": Field(StudentTerm.term_description_id),
}
SIS_TERM_FIELDS = {
    "id": Field(SisTerm.id, prefixable=True),
    "year": Field(func.substr(SisTerm.id, 1, 4), lambda v: f"{to_int(v):04d}"),
}


def _term_at(current: str, offset: Any) -> str:
    return calendar.term_id_at(calendar.ordinal(current) + to_int(offset))


def offset_conditions(
    conditions: Sequence[Condition], field: str, term_id_field: str, current: str | None
) -> list[Condition]:
    """Rewrite conditions on a computed offset as conditions on term ids (`YYYYMM` sorts in
    calendar order), so they run in SQL. With no current term no offset matches anything."""
    out: list[Condition] = []
    for cond in conditions:
        if cond.field != field:
            out.append(cond)
            continue
        if current is None:
            out.append(Condition(term_id_field, "in", []))
            continue
        if cond.op == "prefix":
            raise Invalid("bad filter", [Problem(field, "a number does not take a prefix match")])
        try:
            value = (
                [_term_at(current, v) for v in cond.value]
                if cond.op == "in"
                else _term_at(current, cond.value)
            )
        except ValueError as exc:
            raise Invalid("bad filter", [Problem(field, f"{cond.value!r}: {exc}")]) from exc
        out.append(Condition(term_id_field, cond.op, value))
    return out


# Built once (see students.py).
_TERMS_BY_NETIDS = (
    select(*STUDENT_TERM_COLUMNS)
    .join(SisTerm, SisTerm.id == StudentTerm.quarterly_term_id)
    .outerjoin(LmsTerm, LmsTerm.id == StudentTerm.lms_term_id)
    .outerjoin(TermDescription, TermDescription.id == StudentTerm.term_description_id)
    .where(StudentTerm.netid.in_(bindparam("netids", expanding=True)))
    .order_by(StudentTerm.netid, StudentTerm.quarterly_term_id, StudentTerm.term_id)
)
_CURRENT_TERM = (
    select(SisTerm.id, SisTerm.start_date, SisTerm.end_date)
    .where(SisTerm.start_date <= bindparam("now"), SisTerm.end_date > bindparam("now"))
    .limit(1)
)


# Batch reads by netid look alike across repositories: one prepared statement each.
class TermRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_netids(self, netids: Sequence[str]) -> list[TermRow]:
        return await fetch_all(self.session, _TERMS_BY_NETIDS, {"netids": list(netids)})


class SisTermRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, now: datetime) -> TermRow | None:
        """The quarterly term whose range holds `now`, if any."""
        rows = await fetch_all(self.session, _CURRENT_TERM, {"now": now})
        return rows[0] if rows else None

    async def all(self, conditions: Sequence[Condition] = ()) -> list[TermRow]:
        clauses = compile_conditions(SIS_TERM_FIELDS, conditions)
        stmt = select(SisTerm.id, SisTerm.name, SisTerm.start_date, SisTerm.end_date)
        return await fetch_all(self.session, stmt.where(*clauses).order_by(SisTerm.id))
