"""Academic plans (declared majors and minors), with their parent, children and student."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from app.domain.disclosures import PLANS, Disclosed
from app.graphql.context import Info, found_nodes
from app.graphql.types.student import Student
from app.services import plans as plans_service


@strawberry.type(
    description="A declared major or minor plan: one row of `GET /api/academic/plans`."
)
class AcademicPlan(relay.Node):
    plan_id: str = strawberry.field(
        description="The plan's id, a string of digits (`20109`): REST's `id`."
    )
    type: str = strawberry.field(description="`Major`, `Minor`, `Modified`, ...")
    state: str = strawberry.field(description="`declared`, ...")
    name: str = strawberry.field(description="`GOVT-GOVT:ECON`.")
    parent_id: int | None = strawberry.field(description="The parent plan's id, if any.")
    updated: bool = strawberry.field(description="REST's `updated` flag (`Y`).")
    dropped: bool = strawberry.field(description="REST's `dropped` flag (`Y`).")
    department: str | None = strawberry.field(description="Department code (`GOVT`).")
    student_netid: str = strawberry.field(description="The student's netid.")
    faculty_netid: str | None = strawberry.field(description="The adviser's netid.")
    internal_comment: str | None = strawberry.field(description="Internal comment (HTML).")
    student_rationale: str | None = strawberry.field(description="Student's rationale (HTML).")
    denial_reason: str | None = strawberry.field(description="Why it was denied (HTML).")
    prerequisites: str | None = strawberry.field(description="Prerequisites (HTML).")
    culminating_experience: str | None = strawberry.field(description="Culminating experience.")
    approval_comment: str | None = strawberry.field(description="Approval comment (HTML).")
    student_comments: str | None = strawberry.field(description="Student's comments (HTML).")
    db_name: str | None = strawberry.field(description="Source database (`iron`).")
    updated_at: datetime | None = strawberry.field(description="When it last changed.")

    @classmethod
    def from_row(cls, row: Any, shown: Disclosed) -> AcademicPlan:
        """The plan of `row`, noted as shown (its student's `plans` record)."""
        shown.add(row.student_netid, PLANS)
        return cls(
            plan_id=str(row.id),
            type=row.type,
            state=row.state,
            name=row.name,
            parent_id=row.parent_id,
            updated=row.updated,
            dropped=row.dropped,
            department=row.department,
            student_netid=row.student_netid,
            faculty_netid=row.faculty_netid,
            internal_comment=row.internal_comment,
            student_rationale=row.student_rationale,
            denial_reason=row.denial_reason,
            prerequisites=row.prerequisites,
            culminating_experience=row.culminating_experience,
            approval_comment=row.approval_comment,
            student_comments=row.student_comments,
            db_name=row.db_name,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The plan this one is part of (a modified major's parts).")
    async def parent(self, info: Info) -> AcademicPlan | None:
        if self.parent_id is None:
            return None
        row = await info.context.loaders.plan_by_id.load(self.parent_id)
        return AcademicPlan.from_row(row, info.context.disclosed) if row is not None else None

    @strawberry.field(description="Plans that name this one as their parent.")
    async def children(self, info: Info) -> list[AcademicPlan]:
        rows = await info.context.loaders.plans_by_parent_id.load(int(self.plan_id))
        return [AcademicPlan.from_row(r, info.context.disclosed) for r in rows]

    @strawberry.field(description="The student who declared it.")
    async def student(self, info: Info) -> Student | None:
        row = await info.context.loaders.student_by_netid.load(self.student_netid)
        return Student.from_row(row, info.context.disclosed) if row is not None else None

    # Relay's node interface, as Student has it: Strawberry reads these per type; what they share
    # is found_nodes.
    @classmethod
    def resolve_id(cls, root: AcademicPlan, *, info: Info) -> str:
        return root.plan_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[AcademicPlan | None]:
        return await found_nodes(info, node_ids, plans_service.find_plan, cls.from_row)
