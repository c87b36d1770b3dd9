"""Student reads. `include_protected=False` makes FERPA-protected rows simply not exist."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, bindparam, func, literal, or_, select

from app.db import fetch_all
from app.domain.filters import Condition, escape_like
from app.models import Student
from app.repositories import AnySelect, KeysetListing, Record
from app.repositories.filtering import Field, compile_conditions, to_int

StudentRow = Record

STUDENT_COLUMNS = (
    Student.netid,
    Student.first_name,
    Student.middle_name,
    Student.last_name,
    Student.class_year,
    Student.school_code,
    Student.ferpa_protected,
)
FIELDS = {
    "netid": Field(Student.netid, prefixable=True),
    "first_name": Field(Student.first_name, prefixable=True),
    "last_name": Field(Student.last_name, prefixable=True),
    "class_year": Field(Student.class_year, to_int),
    "school_code": Field(Student.school_code, prefixable=True),
}


def _name_prefix(prefix: str) -> ColumnElement[bool]:
    pattern = literal(escape_like(prefix.lower())) + "%"
    return or_(
        func.lower(Student.last_name).like(pattern, escape="\\"),
        func.lower(Student.first_name).like(pattern, escape="\\"),
    )


def visible(include_protected: bool) -> list[ColumnElement[bool]]:
    return [] if include_protected else [Student.ferpa_protected.is_(False)]


# Hot paths are built once: constructing a statement costs about as much as running a small one.
_BY_NETIDS = {
    seen: select(*STUDENT_COLUMNS).where(
        Student.netid.in_(bindparam("netids", expanding=True)), *visible(seen)
    )
    for seen in (True, False)
}


class StudentRepository(KeysetListing):
    table, key, columns = Student, Student.__table__.c.netid, STUDENT_COLUMNS
    orders = {
        "netid": (Student.__table__.c.netid,),
        "last_name": tuple(Student.__table__.c[n] for n in ("last_name", "first_name", "netid")),
    }

    def filtered(
        self,
        stmt: AnySelect,
        conditions: Sequence[Condition],
        include_protected: bool,
    ) -> AnySelect:
        custom = {"name": lambda c: _name_prefix(str(c.value))}
        clauses = compile_conditions(FIELDS, conditions, custom)
        return stmt.where(*clauses, *visible(include_protected))

    async def by_netids(
        self, netids: Sequence[str], *, include_protected: bool
    ) -> list[StudentRow]:
        return await fetch_all(
            self.session, _BY_NETIDS[include_protected], {"netids": list(netids)}
        )

    async def by_netid(self, netid: str, *, include_protected: bool) -> StudentRow | None:
        rows = await self.by_netids([netid], include_protected=include_protected)
        return rows[0] if rows else None
