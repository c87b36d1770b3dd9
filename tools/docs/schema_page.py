"""docs/reference/schema.md: the GraphQL schema (the one schema.graphql holds), type by type,
each with its description and SDL, grouped by kind, from the Strawberry schema itself."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    print_type,
)

INTRO = """# GraphQL schema

The schema `POST /graphql` answers, type by type (the same SDL as `schema.graphql`, which
`make schema` writes). With `GRAPHQL_FEDERATION` on, the subgraph adds `_service`, `_entities`
and the federation directives (`schema.subgraph.graphql`; see
[In a supergraph](../operations/supergraph.md)). How to call it: [GraphQL](../api/graphql.md).
"""

KINDS: tuple[tuple[str, type[GraphQLNamedType]], ...] = (
    ("Objects", GraphQLObjectType),
    ("Interfaces", GraphQLInterfaceType),
    ("Unions", GraphQLUnionType),
    ("Inputs", GraphQLInputObjectType),
    ("Enums", GraphQLEnumType),
    ("Scalars", GraphQLScalarType),
)


def schema_page() -> str:
    from app.graphql.schema import build_schema

    schema = build_schema()._schema
    roots = [t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t]
    named = [
        t
        for name, t in sorted(schema.type_map.items())
        if not name.startswith("__") and t not in roots
    ]
    sections = [INTRO, "## Operations", ""]
    sections += [_type(t, "###") for t in roots]
    for title, kind in KINDS:
        of_kind = [t for t in named if isinstance(t, kind)]
        if of_kind:
            sections += [f"## {title}", ""]
            sections += [_type(t, "###") for t in of_kind]
    return "\n".join(sections)


def _type(graphql_type: GraphQLNamedType, level: str) -> str:
    lines = [f"{level} {graphql_type.name}", ""]
    if graphql_type.description:
        lines += [graphql_type.description.strip(), ""]
    lines += ["```graphql", print_type(graphql_type), "```", ""]
    return "\n".join(lines)
