"""schema.graphql is generated from the code; this fails when it is stale."""

from __future__ import annotations

from pathlib import Path

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


def test_every_field_has_a_description():
    schema = build_schema()._schema
    missing = [
        f"{name}.{field_name}"
        for name, type_ in schema.type_map.items()
        if not name.startswith("__") and hasattr(type_, "fields")
        for field_name, field in type_.fields.items()
        if not field.description
    ]
    assert missing == []
