"""schema.graphql and schema.subgraph.graphql (GRAPHQL_FEDERATION) are generated from the code;
this fails when either is stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import find_breaking_changes, find_dangerous_changes

from app.cli import main
from app.graphql.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_matches_code():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == build_schema().as_str() + "\n", (
        "schema.graphql is stale: run `make schema` (studentgraph export-schema -o schema.graphql)"
    )


def test_export_schema_command_writes_the_same(tmp_path):
    out = tmp_path / "schema.graphql"
    assert main(["export-schema", "--output", str(out)]) == 0
    assert out.read_text() == (ROOT / "schema.graphql").read_text()


@pytest.mark.parametrize("federation", [False, True])
def test_every_field_has_a_description(federation):
    schema = build_schema(federation=federation)._schema
    missing = [
        f"{name}.{field_name}"
        for name, type_ in schema.type_map.items()
        if not name.startswith("__") and hasattr(type_, "fields")
        for field_name, field in type_.fields.items()
        if not field.description
    ]
    assert missing == []


def test_subgraph_schema_file_matches_code():
    committed = (ROOT / "schema.subgraph.graphql").read_text()
    assert committed == build_schema(federation=True).as_str() + "\n", (
        "schema.subgraph.graphql is stale: run `make schema` "
        "(studentgraph export-schema --federation -o schema.subgraph.graphql)"
    )


def test_export_schema_command_writes_the_subgraph(tmp_path):
    out = tmp_path / "schema.subgraph.graphql"
    assert main(["export-schema", "--federation", "--output", str(out)]) == 0
    assert out.read_text() == (ROOT / "schema.subgraph.graphql").read_text()


def test_the_subgraph_only_adds_what_federation_needs():
    """With GRAPHQL_FEDERATION the schema is the same but for the subgraph's own additions (and
    the `@key`s and `@link` of its SDL); off, it has none of them (schema.graphql above)."""
    plain, subgraph = build_schema()._schema, build_schema(federation=True)._schema
    assert find_breaking_changes(plain, subgraph) == []
    assert find_dangerous_changes(plain, subgraph) == []
    added_types = subgraph.type_map.keys() - plain.type_map.keys()
    # the subgraph specification's, and the arguments of `@key` and `@link`
    assert added_types == {
        "_Any",
        "_Entity",
        "_Service",
        "_FieldSet",
        "link__Import",
        "link__Purpose",
    }
    assert plain.type_map.keys() <= subgraph.type_map.keys()
    added = {
        name: subgraph.type_map[name].fields.keys() - type_.fields.keys()
        for name, type_ in plain.type_map.items()
        if hasattr(type_, "fields")
    }
    assert {name: fields for name, fields in added.items() if fields} == {
        "Query": {"_service", "_entities"}
    }
    directives = {d.name for d in subgraph.directives} - {d.name for d in plain.directives}
    assert directives == {"key", "link"}
    sdl = build_schema(federation=True).as_str()
    assert sdl.startswith(
        'schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"]) {'
    )
    keys = {line.split()[1]: line for line in sdl.splitlines() if "@key(" in line}
    assert keys == {
        "Student": 'type Student implements Node @key(fields: "netid", resolvable: true) {',
        "AcademicPlan": (
            'type AcademicPlan implements Node @key(fields: "planId", resolvable: true) {'
        ),
        "SisTerm": 'type SisTerm @key(fields: "id", resolvable: true) {',
    }
