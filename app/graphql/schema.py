"""The schema: root fields translate arguments, call a service, and wrap rows in types."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import strawberry
from strawberry import relay
from strawberry.schema.config import StrawberryConfig

from app.domain.disclosures import Disclosed
from app.errors import Invalid, Problem
from app.graphql.context import Info
from app.graphql.limits import Limits, Prepare, schema_extensions
from app.graphql.scalars import SCALAR_MAP
from app.graphql.subscriptions import Subscription
from app.graphql.types.connections import (
    AcademicPlanConnection,
    Edge,
    StudentConnection,
    decode_cursor,
    encode_cursor,
    page_info,
)
from app.graphql.types.filters import (
    PlanFilter,
    SisTermFilter,
    StudentFilter,
    conditions_of,
)
from app.graphql.types.plan import AcademicPlan
from app.graphql.types.reference import DplanCode, DplanSource, SisTerm
from app.graphql.types.student import Student
from app.graphql.types.task import Task, resolve_set_dplans, resolve_task
from app.services import paging
from app.services import plans as plans_service
from app.services import reference as reference_service
from app.services import students as students_service

PAGE_DEFAULT = 20
# Types `node(id:)` can fetch, by GraphQL type name (a global id names its type).
NODE_TYPES: dict[str, Any] = {"Student": Student, "AcademicPlan": AcademicPlan, "Task": Task}


# What each listing's rows become: the cursor's kind and key, and the node.
_NODES: dict[Any, tuple[str, Callable[[Any], str], Any]] = {
    paging.STUDENTS: ("student", lambda r: r.netid, Student),
    paging.PLANS: ("plan", lambda r: str(r.id), AcademicPlan),
}


async def _connection(
    info: Info, listing: Any, filter: Any, first: int, cursor: str | None, after: Any
) -> dict[str, Any]:
    """A connection's parts: a page after the keyset key `after`, `totalCount` on demand."""
    ctx = info.context
    conditions = conditions_of(filter)
    page = await listing.page(
        ctx.session,
        ctx.principal,
        conditions,
        first=first,
        after=after,
        max_page_size=ctx.settings.page_size_max,
    )
    kind, key_of, node = _NODES[listing]
    shown = Disclosed()  # the context's once the answer shows the page (see _Connection)
    edges = [
        Edge(cursor=encode_cursor(kind, key_of(r)), node=node.from_row(r, shown)) for r in page.rows
    ]
    return {
        "_edges": edges,
        "_page_info": page_info([e.cursor for e in edges], page.has_next, cursor is not None),
        "_shown": shown,
        "_count": lambda: listing.count(ctx.session, ctx.principal, conditions),
    }


@strawberry.type(description="Reads. Student data needs `urn:dartmouth:students:read.sensitive`.")
class Query:
    @strawberry.field(description="Any object by its global `id`; null when unknown or hidden.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        try:
            global_id = relay.GlobalID.from_id(id)
        except relay.GlobalIDValueError as exc:
            raise Invalid("bad id", [Problem("id", "is not an id this API gave out")]) from exc
        if not global_id.node_id.isprintable():
            raise Invalid("bad id", [Problem("id", "is not an id this API gave out")])
        node_type = NODE_TYPES.get(global_id.type_name)
        if node_type is None:
            return None
        nodes = await node_type.resolve_nodes(info=info, node_ids=[global_id.node_id])
        return next(iter(nodes), None)

    @strawberry.field(description="One student by netid; null when unknown or not visible to you.")
    async def student(self, info: Info, netid: str) -> Student | None:
        ctx = info.context
        row = await students_service.find_student(ctx.session, ctx.principal, netid)
        return Student.from_row(row, ctx.disclosed) if row is not None else None

    @strawberry.field(description="Students in netid order, a page at a time (at most 100).")
    async def students(
        self,
        info: Info,
        filter: StudentFilter | None = None,
        first: int = PAGE_DEFAULT,
        after: str | None = None,
    ) -> StudentConnection:
        connection = await _connection(
            info, paging.STUDENTS, filter, first, after, decode_cursor("student", after)
        )
        return StudentConnection(**connection)

    @strawberry.field(description="One academic plan by id; null when unknown or not visible.")
    async def plan(self, info: Info, id: str) -> AcademicPlan | None:
        ctx = info.context
        row = await plans_service.find_plan(ctx.session, ctx.principal, id)
        return AcademicPlan.from_row(row, ctx.disclosed) if row is not None else None

    @strawberry.field(description="Academic plans in id order, a page at a time (at most 100).")
    # Alike `students`: Strawberry reads each field's own signature; what they share is
    # `_connection`.
    async def plans(
        self,
        info: Info,
        filter: PlanFilter | None = None,
        first: int = PAGE_DEFAULT,
        after: str | None = None,
    ) -> AcademicPlanConnection:
        after_key = decode_cursor("plan", after)
        key = plans_service.parse_plan_id(after_key) if after_key else None
        connection = await _connection(info, paging.PLANS, filter, first, after, key)
        return AcademicPlanConnection(**connection)

    @strawberry.field(description="The SIS quarterly term calendar, oldest first.")
    async def sis_terms(self, info: Info, filter: SisTermFilter | None = None) -> list[SisTerm]:
        ctx = info.context
        current = await ctx.current_term_id()
        rows = await reference_service.sis_terms(
            ctx.session,
            ctx.principal,
            conditions_of(filter),
            current_term_id=current,
        )
        return [SisTerm.from_row(r, current) for r in rows]

    @strawberry.field(description="Every D-plan code.")
    async def dplan_codes(self, info: Info) -> list[DplanCode]:
        rows = await reference_service.dplan_codes(info.context.session, info.context.principal)
        return [DplanCode(id=r.id, description=r.description) for r in rows]

    @strawberry.field(description="Every D-plan source.")
    async def dplan_sources(self, info: Info) -> list[DplanSource]:
        rows = await reference_service.dplan_sources(info.context.session, info.context.principal)
        return [DplanSource(id=r.id, description=r.description) for r in rows]

    task: Task | None = strawberry.field(
        resolver=resolve_task,
        description="One task by id; null when unknown or not yours (its requester, or a holder "
        "of `urn:dartmouth:tasks:students:write`, may see it).",
    )


@strawberry.type(description="Writes. Each is accepted as a durable task and applied by a worker.")
class Mutation:
    set_dplans: Task = strawberry.mutation(
        resolver=resolve_set_dplans,
        description="Set a student's D-plans by term (other terms untouched). Needs "
        "`urn:dartmouth:students:write.sensitive` and `...:read.sensitive`. Answers the accepted "
        "task; follow it with `task(id)` or `subscription { taskUpdated }`. With an "
        "`idempotencyKey`, a repeat of the same request answers the first task.",
    )


class Schema(strawberry.Schema):
    # Parse (with the token limit) and validate (with the limit rules), cached per query text;
    # shared by Strawberry's execution and the planner, so a document is prepared once.
    prepare_document: Prepare
    limits: Limits

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Errors are formatted (and unexpected ones logged) once, by app.graphql.errors."""


@lru_cache(maxsize=4)
def build_schema(limits: Limits = Limits()) -> Schema:
    extensions = schema_extensions(limits)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Student, AcademicPlan, Task],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=extensions,
    )
    schema.prepare_document = extensions[0]._prepare
    schema.limits = limits
    return schema
