"""Student, its terms and D-plans. Nested lists come from per-request loaders."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from app.domain.disclosures import DPLANS, PLANS, STUDENT, TERMS, Disclosed
from app.graphql.context import Info, found_nodes
from app.graphql.types.reference import LmsTerm, SisTerm, TermDescription
from app.services import students as students_service

if TYPE_CHECKING:
    from app.graphql.types.plan import AcademicPlan

Plan = Annotated["AcademicPlan", strawberry.lazy("app.graphql.types.plan")]


@strawberry.type(
    description="A term a student holds: one row of `GET /api/students/{netid}/terms`."
)
class StudentTerm:
    id: str = strawberry.field(description="The record id (24 hex characters).")
    netid: str = strawberry.field(description="The student's netid.")
    term_id: str = strawberry.field(description="Term and part of term: `201801-U`.")
    school_id: str | None = strawberry.field(description="`UG` and the like.")
    is_active: bool = strawberry.field(
        description="Its quarterly term is the one in progress today. Computed, never stored."
    )
    start_date: datetime | None = strawberry.field(description="When the student's term begins.")
    end_date: datetime | None = strawberry.field(description="When the student's term ends.")
    lms_term: LmsTerm | None = strawberry.field(description="The LMS term it maps to.")
    quarterly_term: SisTerm = strawberry.field(description="The quarterly SIS term it falls in.")
    term_description: TermDescription | None = strawberry.field(description="Part of term.")

    @classmethod
    def from_row(cls, row: Any, current: str | None) -> StudentTerm:
        lms = (
            LmsTerm(
                id=row.lms_term_id,
                name=row.lms_term_name,
                is_course_send_enabled=row.lms_is_course_send_enabled,
                is_enroll_send_enabled=row.lms_is_enroll_send_enabled,
            )
            if row.lms_term_id is not None
            else None
        )
        description = (
            TermDescription(id=row.term_description_id, name=row.term_description_name)
            if row.term_description_id is not None
            else None
        )
        quarterly = SisTerm.build(
            row.quarterly_term_id,
            row.quarterly_term_name,
            row.quarterly_term_start_date,
            row.quarterly_term_end_date,
            current,
        )
        return cls(
            id=row.id,
            netid=row.netid,
            term_id=row.term_id,
            school_id=row.school_id,
            is_active=current is not None and row.quarterly_term_id == current,
            start_date=row.start_date,
            end_date=row.end_date,
            lms_term=lms,
            quarterly_term=quarterly,
            term_description=description,
        )


# A GraphQL type's fields are declarations (a name, a type, a description each); types that
# look alike (SisTerm) are different things to a client and stay apart.
@strawberry.type(description="A student's D-plan (residency plan) for one term.")
class Dplan:
    term_code: str = strawberry.field(description="The SIS term it is for (`202301`).")
    term: SisTerm = strawberry.field(description="That SIS term.")
    dplan_id: str = strawberry.field(description="The D-plan code (`R`).")
    dplan_description: str = strawberry.field(description="The code's description (`Resident`).")
    dplan_source_id: str = strawberry.field(description="Where it came from (`PHL`).")
    dplan_source_description: str = strawberry.field(description="`Registrar Action`.")
    updated_at: datetime = strawberry.field(description="When it was last set.")

    @classmethod
    def from_row(cls, row: Any, current: str | None) -> Dplan:
        term = SisTerm.build(
            row.term_code, row.term_name, row.term_start_date, row.term_end_date, current
        )
        return cls(
            term_code=row.term_code,
            term=term,
            dplan_id=row.dplan_id,
            dplan_description=row.dplan_description,
            dplan_source_id=row.dplan_source_id,
            dplan_source_description=row.dplan_source_description,
            updated_at=row.updated_at,
        )


@strawberry.type(
    description="A student. FERPA-protected students exist only for callers with "
    "`urn:dartmouth:people:private`."
)
class Student(relay.Node):
    netid: str = strawberry.field(description="The student's netid (`f000abc`).")
    first_name: str = strawberry.field(description="Given name.")
    middle_name: str | None = strawberry.field(description="Middle name, if any.")
    last_name: str = strawberry.field(description="Family name.")
    class_year: int | None = strawberry.field(description="Expected class year (`2026`).")
    school_code: str | None = strawberry.field(description="School (`UG`, `GR`, ...).")
    ferpa_protected: bool = strawberry.field(description="The student asked for FERPA privacy.")

    @classmethod
    def from_row(cls, row: Any, shown: Disclosed) -> Student:
        """The student of `row`, noted as shown (a disclosure record, app.domain.disclosures)."""
        shown.add(row.netid, STUDENT)
        return cls(
            netid=row.netid,
            first_name=row.first_name,
            middle_name=row.middle_name,
            last_name=row.last_name,
            class_year=row.class_year,
            school_code=row.school_code,
            ferpa_protected=row.ferpa_protected,
        )

    @strawberry.field(description="Full name: given, middle and family.")
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)

    @strawberry.field(description="The terms the student holds, oldest first.")
    async def terms(self, info: Info) -> list[StudentTerm]:
        rows = await info.context.loaders.terms_by_netid.load(self.netid)
        info.context.disclosed.add(self.netid, TERMS)
        current = await info.context.current_term_id()
        return [StudentTerm.from_row(r, current) for r in rows]

    @strawberry.field(description="Declared major and minor plans, by id.")
    async def plans(self, info: Info) -> list[Plan]:
        from app.graphql.types.plan import AcademicPlan

        rows = await info.context.loaders.plans_by_netid.load(self.netid)
        info.context.disclosed.add(self.netid, PLANS)
        return [AcademicPlan.from_row(r, info.context.disclosed) for r in rows]

    # Alike `terms` above: each field is its own loader and disclosed record type.
    @strawberry.field(description="D-plans, one per term, by term.")
    async def dplans(self, info: Info) -> list[Dplan]:
        rows = await info.context.loaders.dplans_by_netid.load(self.netid)
        info.context.disclosed.add(self.netid, DPLANS)
        current = await info.context.current_term_id()
        return [Dplan.from_row(r, current) for r in rows]

    @classmethod
    def resolve_id(cls, root: Student, *, info: Info) -> str:
        return root.netid

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Student | None]:
        return await found_nodes(info, node_ids, students_service.find_student, cls.from_row)
