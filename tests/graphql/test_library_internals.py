"""What app/graphql/limits.py (and the planner) lean on beyond Strawberry's and graphql-core's
documented API: if an upgrade changes any of it, these fail, loudly and by name."""

from __future__ import annotations

import dataclasses

from graphql import GraphQLSchema, parse, specified_rules, validate
from strawberry.schema import schema as strawberry_schema
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
