"""What app/graphql/limits.py, the planner and app/graphql/federation.py lean on beyond
Strawberry's and graphql-core's documented API: if an upgrade changes any of it, these fail,
loudly and by name."""

from __future__ import annotations

import dataclasses

from graphql import GraphQLSchema, parse, specified_rules, validate
from strawberry import federation
from strawberry.federation.schema import FederationAny
from strawberry.printer import print_schema
from strawberry.schema import schema as strawberry_schema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.execution import ExecutionContext

from app.graphql.documents import _rules
from app.graphql.limits import Limits
from app.graphql.schema import build_schema


def test_a_strawberry_schema_wraps_a_graphql_core_schema():
    assert isinstance(build_schema()._schema, GraphQLSchema)


def test_we_validate_with_the_rules_strawberry_adds():
    # Strawberry's validate_document adds exactly these two to the rules it is given.
    assert strawberry_schema.MaybeNullValidationRule is MaybeNullValidationRule
    assert strawberry_schema.OneOfInputValidationRule is OneOfInputValidationRule
    ours = _rules(Limits())
    assert MaybeNullValidationRule in ours and OneOfInputValidationRule in ours
    schema = build_schema()._schema
    document = parse("{ dplanCodes { id } nope }")
    theirs = strawberry_schema.validate_document(schema, document, tuple(specified_rules))
    assert theirs and [e.message for e in theirs] == [
        e.message for e in validate(schema, document, ours)
    ]


def test_an_extension_replaces_parsing_through_these_fields():
    fields = {f.name for f in dataclasses.fields(ExecutionContext)}
    assert {"query", "graphql_document", "pre_execution_errors", "parse_options"} <= fields


def test_federation_keys_are_added_where_strawberry_reads_directives():
    """The subgraph adds `@key` to its own copies of the entity types' definitions, in the
    hook Strawberry's schema calls after converting the types and before collecting the
    directives in use (`_collect_schema_directives`); the printer and that collection read a
    type's definition from its GraphQL type's extensions (DEFINITION_BACKREF); the `_Any`
    scalar is `FederationAny`, which Strawberry's federation schema maps itself."""
    assert hasattr(federation.Schema, "_collect_schema_directives")
    subgraph = build_schema(federation=True)
    student = subgraph._schema.type_map["Student"]
    assert student.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].directives
    assert '@link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])' in (
        print_schema(subgraph)
    )
    plain = build_schema()._schema.type_map["Student"]
    assert not plain.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].directives
    representations = subgraph._schema.query_type.fields["_entities"].args["representations"]
    assert str(representations.type) == "[_Any!]!" and FederationAny.__name__ == "FederationAny"
