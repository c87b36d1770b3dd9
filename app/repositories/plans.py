"""Academic plan reads. Plans of FERPA-protected students are hidden with their student."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, bindparam, cast, select

from app.db import fetch_all
from app.domain.filters import Condition
from app.models import AcademicPlan, Student
from app.repositories import AnySelect, KeysetListing, Record
from app.repositories.filtering import Field, compile_conditions, to_datetime, to_flag, to_int

PlanRow = Record

PLAN_COLUMNS = tuple(AcademicPlan.__table__.columns)
FIELDS = {
    "id": Field(AcademicPlan.id, to_int),
    "type": Field(AcademicPlan.type, prefixable=True),
    "state": Field(AcademicPlan.state, prefixable=True),
    "name": Field(AcademicPlan.name, prefixable=True),
    "parent_id": Field(AcademicPlan.parent_id, to_int),
    "updated": Field(AcademicPlan.updated, to_flag),
    "dropped": Field(AcademicPlan.dropped, to_flag),
    "department": Field(AcademicPlan.department, prefixable=True),
    "student_netid": Field(AcademicPlan.student_netid, prefixable=True),
    "faculty_netid": Field(AcademicPlan.faculty_netid, prefixable=True),
    "db_name": Field(AcademicPlan.db_name),
    "updated_at": Field(AcademicPlan.updated_at, to_datetime),
}
# A prefix match on an id compares its digits as text (`?id=201*`): not a filter of its own.
_ID_TEXT = Field(cast(AcademicPlan.id, String), prefixable=True)


def _visible(stmt: AnySelect, include_protected: bool) -> AnySelect:
    if include_protected:
        return stmt
    return stmt.join(Student, Student.netid == AcademicPlan.student_netid).where(
        Student.ferpa_protected.is_(False)
    )


def _id_prefix_as_text(conditions: Sequence[Condition]) -> list[Condition]:
    return [
        Condition(" id as text", "prefix", c.value) if c.field == "id" and c.op == "prefix" else c
        for c in conditions
    ]


# Built once (see students.py).
_BY_IDS = {
    seen: _visible(select(*PLAN_COLUMNS), seen).where(
        AcademicPlan.id.in_(bindparam("ids", expanding=True))
    )
    for seen in (True, False)
}
_BY_NETIDS = (
    select(*PLAN_COLUMNS)
    .where(AcademicPlan.student_netid.in_(bindparam("netids", expanding=True)))
    .order_by(AcademicPlan.id)
)
# A child may be another student's plan (nothing in the data forbids it): its own student's
# visibility decides, as for a plan read by id.
_BY_PARENT_IDS = {
    seen: _visible(select(*PLAN_COLUMNS), seen)
    .where(AcademicPlan.parent_id.in_(bindparam("ids", expanding=True)))
    .order_by(AcademicPlan.id)
    for seen in (True, False)
}


class PlanRepository(KeysetListing):
    table, key, columns = AcademicPlan, AcademicPlan.__table__.c.id, PLAN_COLUMNS
    student_netid = AcademicPlan.__table__.c.student_netid
    orders = {
        "id": (AcademicPlan.__table__.c.id,),
        "student_netid": (AcademicPlan.__table__.c.student_netid, AcademicPlan.__table__.c.id),
    }

    # How plans' conditions filter them (StudentRepository has its own: each table its own
    # fields and visibility rule).
    def filtered(
        self,
        stmt: AnySelect,
        conditions: Sequence[Condition],
        include_protected: bool,
    ) -> AnySelect:
        clauses = compile_conditions(
            {**FIELDS, " id as text": _ID_TEXT}, _id_prefix_as_text(conditions)
        )
        return _visible(stmt, include_protected).where(*clauses)

    async def by_ids(self, ids: Sequence[int], *, include_protected: bool) -> list[PlanRow]:
        return await fetch_all(self.session, _BY_IDS[include_protected], {"ids": list(ids)})

    async def by_netids(self, netids: Sequence[str]) -> list[PlanRow]:
        """Plans of students already known to be visible to the caller."""
        return await fetch_all(self.session, _BY_NETIDS, {"netids": list(netids)})

    async def by_parent_ids(self, ids: Sequence[int], *, include_protected: bool) -> list[PlanRow]:
        """Children of plans, those of students the caller may see."""
        stmt = _BY_PARENT_IDS[include_protected]
        return await fetch_all(self.session, stmt, {"ids": list(ids)})
