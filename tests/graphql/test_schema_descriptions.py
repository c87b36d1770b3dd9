"""What clients read from introspection: every argument and enum value described, and
`DateTime` pointing at its specification."""

from __future__ import annotations

from tests.graphql_client import gql_data

INTROSPECTION = """{ __schema {
  types { name kind specifiedByURL
    fields { name args { name description } }
    enumValues { name description } }
  directives { name args { name description } } } }"""


async def test_every_argument_and_enum_value_has_a_description(client, auth):
    schema = (await gql_data(client, INTROSPECTION, auth()))["__schema"]
    # The spec's own introspection types (`__Type.fields(includeDeprecated)`, ...) come from
    # graphql-core as the spec writes them; everything else is ours or a directive's.
    ours = [t for t in schema["types"] if not t["name"].startswith("__")]
    missing = [
        f"{t['name']}.{f['name']}({a['name']})"
        for t in ours
        for f in t["fields"] or ()
        for a in f["args"]
        if not (a["description"] or "").strip()
    ]
    missing += [
        f"{t['name']}.{v['name']}"
        for t in ours
        for v in t["enumValues"] or ()
        if not (v["description"] or "").strip()
    ]
    missing += [
        f"@{d['name']}({a['name']})"
        for d in schema["directives"]
        for a in d["args"]
        if not (a["description"] or "").strip()
    ]
    assert missing == []
    arguments = sum(len(f["args"]) for t in ours for f in t["fields"] or ())
    values = sum(len(t["enumValues"] or ()) for t in ours)
    assert arguments >= 20 and values >= 12  # the check saw the schema's arguments and enums


async def test_date_time_is_specified_by_rfc_3339(client, auth):
    schema = (await gql_data(client, INTROSPECTION, auth()))["__schema"]
    date_time = next(t for t in schema["types"] if t["name"] == "DateTime")
    assert date_time["specifiedByURL"] == "https://datatracker.ietf.org/doc/html/rfc3339"
