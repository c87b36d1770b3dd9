"""Apollo Federation 2 (GRAPHQL_FEDERATION): the subgraph a gateway composes into a supergraph
(docs/operations/supergraph.md).

The entities and their keys are ENTITY_KEYS. Strawberry's federation schema builds the subgraph
(`strawberry.federation.Schema`: the `@link` to the federation spec, importing what is used, and
the `_Any` scalar); the keys are added to that schema's own copies of the types' definitions, not
with `strawberry.federation.type` on the types, because the same types also make the schema
served with federation off, which must stay exactly schema.graphql (no `@key`, no `_FieldSet`).

`_service { sdl }` is ours so that the SDL is printed once per process, not per request.
`_entities` is ours rather than Strawberry's, which resolves each representation by itself: here
the references of one type are read together, through the same services as `student(netid:)`,
`plan(id:)` and `sisTerms` (so the same scopes and FERPA visibility: a hidden student's
reference is null, as an unknown one's), by one statement per entity type whatever their
number; what they show is noted as disclosed as any read's is. Its cost is that of as many
objects as it is given references (app/graphql/costs.py); the representations are bounded
before it runs (app/graphql/inputs.py) and checked by `references`."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Annotated, Any, Final, cast

import strawberry
from graphql import GraphQLNamedType
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.schema.schema_converter import GraphQLCoreConverter

from app.auth import Principal
from app.errors import Invalid, Problem
from app.graphql.context import Context, Info
from app.graphql.types.plan import AcademicPlan
from app.graphql.types.reference import SisTerm
from app.graphql.types.student import Student
from app.services import plans as plans_service
from app.services import reference as reference_service
from app.services import students as students_service

# The federation spec the SDL links to: the oldest with everything it uses (`@key` with
# `resolvable`), so any Federation 2 gateway or router composes it.
FEDERATION_VERSION: Final = "2.0"
# Entity types and the field each is keyed by: a student by netid (what every campus system
# holds); a plan by the id the registrar gives it (advising and degree audit refer to plans);
# an SIS term by its id `YYYYMM` (courses, housing and financial aid are offered by term, and
# may ask our calendar for its dates and `currentTermOffset`).
ENTITY_KEYS: dict[str, str] = {"Student": "netid", "AcademicPlan": "planId", "SisTerm": "id"}
ENTITY_TYPES: tuple[type, ...] = (Student, AcademicPlan, SisTerm)

Entity = Annotated[
    Student | AcademicPlan | SisTerm,
    strawberry.union("_Entity", description="The types a gateway may ask for by their keys."),
]
Find = Callable[[AsyncSession, Principal, Sequence[str]], Awaitable[list[Any]]]


async def _students(ctx: Context, rows: list[Any]) -> list[Any]:
    return [Student.from_row(r, ctx.disclosed) if r is not None else None for r in rows]


async def _plans(ctx: Context, rows: list[Any]) -> list[Any]:
    return [AcademicPlan.from_row(r, ctx.disclosed) if r is not None else None for r in rows]


async def _sis_terms(ctx: Context, rows: list[Any]) -> list[Any]:
    current = await ctx.current_term_id()
    return [SisTerm.from_row(r, current) if r is not None else None for r in rows]


# Each entity type: the service that finds many by key (deciding access), and what its rows
# become (Student and AcademicPlan note what they show as disclosed).
RESOLVERS: dict[str, tuple[Find, Callable[[Context, list[Any]], Awaitable[list[Any]]]]] = {
    "Student": (students_service.find_students, _students),
    "AcademicPlan": (plans_service.find_plans, _plans),
    "SisTerm": (reference_service.sis_terms_by_id, _sis_terms),
}


def _refuse(index: int, what: str) -> Invalid:
    where = f"representations[{index}]"
    return Invalid(f"argument {where} {what}", [Problem(where, what)])


def references(representations: Iterable[Any]) -> list[tuple[str, str]]:
    """(type name, key) of each representation, or `Invalid` naming the first that is not
    `{"__typename": <an entity type>, <its key field>: <a string>}` and nothing else."""
    found = []
    for index, representation in enumerate(representations):
        if not isinstance(representation, dict):
            raise _refuse(index, "is not an object")
        type_name = representation.get("__typename")
        key = ENTITY_KEYS.get(type_name) if isinstance(type_name, str) else None
        if key is None:
            names = ", ".join(ENTITY_KEYS)
            raise _refuse(index, f"has no `__typename` naming an entity type ({names})")
        value = representation.get(key)
        if not isinstance(value, str):
            raise _refuse(index, f"has no `{key}` string, the key of {type_name}")
        if len(representation) != 2:
            raise _refuse(index, f"has fields besides `__typename` and `{key}`")
        found.append((cast(str, type_name), value))
    return found


async def resolve_entities(
    info: Info,
    representations: Annotated[
        list[FederationAny],
        strawberry.argument(
            description='References: `{"__typename": "Student", "netid": "f000abc"}`.'
        ),
    ],
) -> list[Entity | None]:
    ctx = info.context
    wanted = references(representations)
    by_type: dict[str, list[int]] = {}
    for index, (type_name, _) in enumerate(wanted):
        by_type.setdefault(type_name, []).append(index)
    entities: list[Any] = [None] * len(wanted)
    for type_name, indices in by_type.items():
        find, build = RESOLVERS[type_name]
        rows = await find(ctx.session, ctx.principal, [wanted[i][1] for i in indices])
        for index, entity in zip(indices, await build(ctx, rows), strict=True):
            entities[index] = entity
    return entities


@strawberry.type(name="_Service", description="This subgraph, as a gateway composes it.")
class Service:
    sdl: str = strawberry.field(
        description="The subgraph's schema with its federation directives "
        "(schema.subgraph.graphql)."
    )


def resolve_service(info: Info) -> Service:
    schema: SubgraphSchema = info.schema  # type: ignore[assignment]
    return Service(sdl=schema.sdl)


ENTITIES_DESCRIPTION = (
    "The entities a gateway refers to, in the order given; null for one that is unknown or not "
    "visible to you (a FERPA-protected student without `urn:dartmouth:people:private`), exactly "
    "as `student(netid:)` answers."
)


def _keyed(graphql_type: GraphQLNamedType, fields: str) -> None:
    """`graphql_type`'s definition (which printing and Strawberry's directive collection read)
    replaced, in this schema only, by a copy with `@key(fields: ...)`."""
    backref = GraphQLCoreConverter.DEFINITION_BACKREF
    extensions = graphql_type.extensions
    definition = extensions[backref]
    key = Key(fields=FieldSet(fields))
    keyed = dataclasses.replace(definition, directives=[*definition.directives, key])
    graphql_type.extensions = {**extensions, backref: keyed}


class SubgraphSchema(strawberry.federation.Schema):
    """Strawberry's federation schema, with ENTITY_KEYS added before it collects the schema
    directives in use (so its `@link` imports `@key`)."""

    @functools.cached_property
    def sdl(self) -> str:
        """`_service { sdl }`, printed once (4 ms each time; a document may ask it 30 times)."""
        return self.as_str()

    def _collect_schema_directives(self, explicit: Any, graphql_types: Any) -> Any:
        for name, fields in ENTITY_KEYS.items():
            implementation = self.schema_converter.type_map[name].implementation
            _keyed(cast(GraphQLNamedType, implementation), fields)
        return super()._collect_schema_directives(explicit, graphql_types)
