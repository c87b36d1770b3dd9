"""Student reads. `include_protected=False` makes FERPA-protected rows simply not exist."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)

from app.db import fetch_all
from app.domain.disclosures import NetidConditions
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
    student_netid = Student.__table__.c.netid
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


def _grouped(stmt: AnySelect, group: int) -> AnySelect:
    inner = stmt.subquery()
    return select(next(iter(inner.c)).label("n"), literal_column(str(group)).label("g"))


async def count_disclosing(
    listing: KeysetListing,
    conditions: Sequence[Condition],
    named: NetidConditions,
    *,
    include_protected: bool,
    limit: int,
) -> tuple[int, list[str]]:
    """How many rows of `listing` match, and the students that count discloses (the rule:
    app.domain.disclosures.NetidConditions), in one statement: the count, joined to the union
    of the students of the counted rows (group -1), the students named (group 0, kept whatever
    their number) and those each prefix matches (groups 1, 2, ...), each group but 0 kept only
    when it has at most `limit` rows."""
    shown = visible(include_protected)
    counted = listing.filtered(select(listing.student_netid), conditions, include_protected)
    parts = [_grouped(counted.limit(limit + 1), -1)]
    if named.names:
        names = select(Student.netid).where(Student.netid.in_(sorted(named.names)), *shown)
        parts.append(_grouped(names, 0))
    for group, prefix in enumerate(sorted(named.prefixes), 1):
        pattern = literal(escape_like(prefix)) + "%"
        matching = select(Student.netid).where(Student.netid.like(pattern, escape="\\"), *shown)
        parts.append(_grouped(matching.limit(limit + 1), group))
    rows = union_all(*parts).subquery()
    sized = select(rows.c.n, rows.c.g, func.count().over(partition_by=rows.c.g).label("m"))
    groups = sized.subquery()
    disclosed = select(groups.c.n).where(or_(groups.c.g == 0, groups.c.m <= limit)).subquery()
    total = listing.filtered(
        select(func.count().label("total")).select_from(listing.table),
        conditions,
        include_protected,
    ).subquery()
    stmt = select(total.c.total, disclosed.c.n).select_from(total.outerjoin(disclosed, true()))
    found = await fetch_all(listing.session, stmt)
    return int(found[0].total), sorted({row.n for row in found if row.n is not None})
