"""The schema: root fields translate arguments, call a service, and wrap rows in types."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.schema.config import StrawberryConfig

from app.config import Settings
from app.domain.disclosures import COUNT, Disclosed
from app.domain.filters import Condition
from app.errors import Invalid, Problem
from app.graphql.context import Context, Info
from app.graphql.documents import schema_extensions
from app.graphql.federation import (
    ENTITIES_DESCRIPTION,
    ENTITY_TYPES,
    FEDERATION_VERSION,
    Entity,
    Service,
    SubgraphSchema,
    resolve_entities,
    resolve_service,
)
from app.graphql.limits import PAGE_DEFAULT, Limits, Prepare, limits_from
from app.graphql.scalars import SCALAR_MAP
from app.graphql.subscriptions import Subscription
from app.graphql.types.change import ChangeConnection, resolve_changes
from app.graphql.types.connections import (
    AcademicPlanConnection,
    Edge,
    StudentConnection,
    page_info,
)
from app.graphql.types.filters import (
    PlanFilter,
    SisTermFilter,
    StudentFilter,
    conditions_of,
)
from app.graphql.types.ordering import (
    PLAN_ORDERINGS,
    STUDENT_ORDERINGS,
    Ordering,
    PlanOrder,
    StudentOrder,
)
from app.graphql.types.plan import AcademicPlan
from app.graphql.types.reference import DplanCode, DplanSource, SisTerm
from app.graphql.types.student import Student
from app.graphql.types.task import Task, resolve_set_dplans, resolve_task
from app.services import paging
from app.services import plans as plans_service
from app.services import reference as reference_service
from app.services import students as students_service

# Types `node(id:)` can fetch, by GraphQL type name (a global id names its type).
NODE_TYPES: dict[str, Any] = {"Student": Student, "AcademicPlan": AcademicPlan, "Task": Task}


def _arg(description: str) -> Any:
    return strawberry.argument(description=description)


# Each connection's arguments, described once (Strawberry reads each field's own signature).
First = Annotated[
    int | None,
    _arg(
        "The first this many items (0 to 100) after `after`; 20 when neither this nor "
        "`last` is given."
    ),
]
Last = Annotated[
    int | None, _arg("The last this many items (0 to 100) before `before`: paging backwards.")
]
After = Annotated[str | None, _arg("Only items after this cursor (an edge's `cursor`).")]
Before = Annotated[str | None, _arg("Only items before this cursor (an edge's `cursor`).")]

# What each listing's rows become.
_NODES: dict[Any, Any] = {paging.STUDENTS: Student, paging.PLANS: AcademicPlan}


def _unset(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


async def _connection(
    info: Info,
    listing: Any,
    filter: Any,
    ordering: Ordering,
    size: tuple[int | None, int | None],
    cursors: tuple[str | None, str | None],
) -> dict[str, Any]:
    """A connection's parts: a page of rows in `ordering`, `first` after or `last` before
    the cursors (`size` and `cursors` as (first, last) and (after, before)), `totalCount` on
    demand."""
    ctx = info.context
    conditions = conditions_of(filter)
    first, last = (_unset(n) for n in size)
    after, before = (_unset(c) for c in cursors)
    wanted = paging.Slice(
        first=PAGE_DEFAULT if first is None and last is None else first,
        last=last,
        after=ordering.key(after, "after"),
        before=ordering.key(before, "before"),
        order=ordering.order,
        descending=ordering.descending,
    )
    page = await listing.page(
        ctx.session,
        ctx.principal,
        conditions,
        wanted=wanted,
        max_page_size=ctx.settings.page_size_max,
    )
    node = _NODES[listing]
    shown = Disclosed()  # the context's once the answer shows the page (see _Connection)
    edges = [Edge(cursor=ordering.cursor(r), node=node.from_row(r, shown)) for r in page.rows]
    has_previous = page.has_previous or (after is not None and last is None)
    return {
        "_edges": edges,
        "_page_info": page_info([e.cursor for e in edges], page.has_next, has_previous),
        "_shown": shown,
        "_count": lambda: _count(ctx, listing, conditions),
    }


async def _count(ctx: Context, listing: paging.Listing[Any], conditions: list[Condition]) -> int:
    """`totalCount`; the students it could identify are disclosed (record type `count`: the
    rule is app.domain.disclosures.NetidConditions), read by the same statement."""
    if not ctx.settings.disclosure_records:
        return await listing.count(ctx.session, ctx.principal, conditions)
    threshold = ctx.settings.disclosure_count_threshold
    total, disclosed = await listing.count_disclosing(
        ctx.session, ctx.principal, conditions, threshold
    )
    for netid in disclosed:
        ctx.disclosed.add(netid, COUNT)
    return total


QUERY_DESCRIPTION = "Reads. Student data needs `urn:dartmouth:students:read.sensitive`."


@strawberry.type(description=QUERY_DESCRIPTION)
class Query:
    @strawberry.field(description="Any object by its global `id`; null when unknown or hidden.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, _arg("A global id this API gave out.")]
    ) -> relay.Node | None:
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
    async def student(
        self, info: Info, netid: Annotated[str, _arg("The student's netid (`f000abc`).")]
    ) -> Student | None:
        ctx = info.context
        row = await students_service.find_student(ctx.session, ctx.principal, netid)
        return Student.from_row(row, ctx.disclosed) if row is not None else None

    @strawberry.field(
        description="Students, a page at a time (at most 100), in netid order or `orderBy`."
    )
    async def students(
        self,
        info: Info,
        filter: Annotated[StudentFilter | None, _arg("Which students; all when absent.")] = None,
        order_by: Annotated[
            StudentOrder | None, _arg("The order of the list; by netid when absent.")
        ] = None,
        first: First = strawberry.UNSET,
        after: After = None,
        last: Last = strawberry.UNSET,
        before: Before = None,
    ) -> StudentConnection:
        ordering = STUDENT_ORDERINGS[order_by or StudentOrder.NETID_ASC]
        connection = await _connection(
            info, paging.STUDENTS, filter, ordering, (first, last), (after, before)
        )
        return StudentConnection(**connection)

    @strawberry.field(description="One academic plan by id; null when unknown or not visible.")
    async def plan(
        self, info: Info, id: Annotated[str, _arg("The plan's id, a string of digits (`20109`).")]
    ) -> AcademicPlan | None:
        ctx = info.context
        row = await plans_service.find_plan(ctx.session, ctx.principal, id)
        return AcademicPlan.from_row(row, ctx.disclosed) if row is not None else None

    @strawberry.field(
        description="Academic plans, a page at a time (at most 100), in id order or `orderBy`."
    )
    # Alike `students`: Strawberry reads each field's own signature; what they share is
    # `_connection`.
    async def plans(
        self,
        info: Info,
        filter: Annotated[PlanFilter | None, _arg("Which plans; all when absent.")] = None,
        order_by: Annotated[
            PlanOrder | None, _arg("The order of the list; by plan id when absent.")
        ] = None,
        first: First = strawberry.UNSET,
        after: After = None,
        last: Last = strawberry.UNSET,
        before: Before = None,
    ) -> AcademicPlanConnection:
        ordering = PLAN_ORDERINGS[order_by or PlanOrder.ID_ASC]
        connection = await _connection(
            info, paging.PLANS, filter, ordering, (first, last), (after, before)
        )
        return AcademicPlanConnection(**connection)

    @strawberry.field(description="The SIS quarterly term calendar, oldest first.")
    async def sis_terms(
        self,
        info: Info,
        filter: Annotated[SisTermFilter | None, _arg("Which terms; all when absent.")] = None,
    ) -> list[SisTerm]:
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

    changes: ChangeConnection = strawberry.field(
        resolver=resolve_changes,
        description="Committed changes to students' records after a position, oldest first "
        "(as GET /api/changes). Needs `urn:dartmouth:students:read.sensitive`; a FERPA-protected "
        "student's entries also `urn:dartmouth:people:private`.",
    )
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


@strawberry.type(name="Query", description=QUERY_DESCRIPTION)
class SubgraphQuery(Query):
    """Query with GRAPHQL_FEDERATION on: what a subgraph's Query has besides its own fields."""

    service: Service = strawberry.field(
        name="_service",
        resolver=resolve_service,
        description="This subgraph's schema, for a gateway or `rover` to compose.",
    )
    entities: list[Entity | None] = strawberry.field(
        name="_entities", resolver=resolve_entities, description=ENTITIES_DESCRIPTION
    )


class Schema(strawberry.Schema):
    # Parse (with the token limit) and validate (with the limit rules), cached per query text;
    # shared by Strawberry's execution and the planner, so a document is prepared once.
    prepare_document: Prepare
    limits: Limits

    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Errors are formatted (and unexpected ones logged) once, by app.graphql.errors."""


class Subgraph(Schema, SubgraphSchema):
    """The schema with GRAPHQL_FEDERATION on: ours, built by Strawberry's federation schema."""


@lru_cache(maxsize=4)
def build_schema(limits: Limits = Limits(), federation: bool = False) -> Schema:
    """The schema (schema.graphql), or with `federation` the subgraph of a supergraph
    (schema.subgraph.graphql)."""
    extensions = schema_extensions(limits)
    types = [Student, AcademicPlan, Task]
    config = StrawberryConfig(scalar_map=SCALAR_MAP)
    schema: Schema
    if federation:
        schema = Subgraph(
            query=SubgraphQuery,
            mutation=Mutation,
            subscription=Subscription,
            types=list(dict.fromkeys([*types, *ENTITY_TYPES])),
            config=config,
            extensions=extensions,
            federation_version=FEDERATION_VERSION,
        )
    else:
        schema = Schema(
            query=Query,
            mutation=Mutation,
            subscription=Subscription,
            types=types,
            config=config,
            extensions=extensions,
        )
    schema.prepare_document = extensions[0]._prepare
    schema.limits = limits
    return schema


def schema_for(settings: Settings) -> Schema:
    """The schema `settings` serve (their limits; federation with GRAPHQL_FEDERATION)."""
    return build_schema(limits_from(settings), settings.graphql_federation)
