"""Hostile GraphQL requests: each gets a clear error with a stable code, shows nothing of the
inside, and, when refused before execution, costs no SQL statement at all."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.hostile import assert_clean


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _fragment_bomb(levels: int) -> str:
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


def _deep(levels: int) -> str:
    return 'plan(id: "1") { ' + "children { " * levels + "planId" + " }" * levels + " }"


def _nested_children(levels: int) -> str:
    return "children { " * levels + "planId" + " }" * levels


NESTED_STUDENTS = (
    "students(first: $n) { edges { node { terms { id } plans { planId children { planId } } } } }"
)
Q = {"query": "{ dplanCodes { id } }"}  # a fine document, for the malformed envelopes

# name: (body, HTTP status, extensions.code, refused before any SQL)
CORPUS: dict[str, tuple[object, int, str, bool]] = {
    "fragments spreading each other twice, 19 levels": (
        {"query": _fragment_bomb(18)},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "depth 16": ({"query": "{ " + _deep(15) + " }"}, 200, "GRAPHQL_VALIDATION_FAILED", True),
    "40 aliases": (
        {"query": "{ " + " ".join(f"a{i}: dplanCodes {{ id }}" for i in range(40)) + " }"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "450 copies of a counted connection": (
        {"query": "{ " + "students(first: 100) { totalCount } " * 450 + "}"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "1000 copies of __typename": (
        {"query": "{ " + "__typename " * 1000 + "}"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "cost past the maximum": (
        {
            "query": "query($n: Int = 100) { "  # the variable's default counts
            + " ".join(f"a{i}: {NESTED_STUDENTS}" for i in range(3))
            + " }"
        },
        200,
        "MAX_COST_EXCEEDED",
        True,
    ),
    "cost past the maximum through a variable": (
        {
            "query": "query($n: Int!) { "
            + " ".join(f"a{i}: {NESTED_STUDENTS}" for i in range(3))
            + " }",
            "variables": {"n": 100},
        },
        200,
        "MAX_COST_EXCEEDED",
        True,
    ),
    "over 5000 tokens": (
        {"query": "{ " + "dplanCodes { id } " * 2000 + "}"},
        200,
        "GRAPHQL_PARSE_FAILED",
        True,
    ),
    "syntax error": ({"query": "{ student(netid: "}, 200, "GRAPHQL_PARSE_FAILED", True),
    "unknown field": ({"query": "{ nope }"}, 200, "GRAPHQL_VALIDATION_FAILED", True),
    "fragment cycle": (
        {"query": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "unknown directive": (
        {"query": "{ dplanCodes @nope { id } }"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "Int past 32 bits": (
        {"query": "{ students(first: 9999999999) { totalCount } }"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "operationName naming nothing": (
        {"query": "{ dplanCodes { id } }", "operationName": "Nope"},
        200,
        "OPERATION_RESOLUTION_FAILURE",
        True,
    ),
    "two operations, no operationName": (
        {"query": "query A { dplanCodes { id } } query B { dplanSources { id } }"},
        200,
        "OPERATION_RESOLUTION_FAILURE",
        True,
    ),
    "a number for String!": (
        {"query": "query($n: String!) { student(netid: $n) { netid } }", "variables": {"n": 5}},
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a missing required variable": (
        {"query": "query($n: String!) { student(netid: $n) { netid } }", "variables": {}},
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a nested list for [String!]": (
        {
            "query": "query($n: [String!]) { students(filter: {netid: {in: $n}}) { totalCount } }",
            "variables": {"n": [["x"]]},
        },
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "10,000 unknown input fields": (
        {
            "query": "query($f: StudentFilter) { students(filter: $f) { totalCount } }",
            "variables": {"f": {f"x{i}": 1 for i in range(10000)}},
        },
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "variables nested 900 deep": (
        b'{"query": "{ dplanCodes { id } }", "variables": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}",
        400,
        "BAD_REQUEST",
        True,
    ),
    "variables as a string that is not JSON": (
        {"query": Q["query"], "variables": "{nope"},
        400,
        "BAD_REQUEST",
        True,
    ),
    "variables as a list": ({"query": Q["query"], "variables": [1]}, 400, "BAD_REQUEST", True),
    "query as a number": ({"query": 5}, 400, "BAD_REQUEST", True),
    "no query": ({"variables": {}}, 400, "BAD_REQUEST", True),
    "operationName as a list": (
        {"query": Q["query"], "operationName": ["x"]},
        400,
        "BAD_REQUEST",
        True,
    ),
    "a NUL in the query": ({"query": "{ dplanCodes { id } }\u0000"}, 400, "BAD_REQUEST", True),
    "a NUL escaped in a string": (
        {"query": '{ student(netid: "a\\u0000b") { netid } }'},
        400,
        "BAD_REQUEST",
        True,
    ),
    "a NUL in a variable": (
        {
            "query": "query($n: String!) { student(netid: $n) { netid } }",
            "variables": {"n": "a\u0000"},
        },
        400,
        "BAD_REQUEST",
        True,
    ),
    "a NUL inside a decoded cursor": (
        {
            "query": f'{{ students(after: "{_cursor(b"student:a" + bytes(1) + b"b")}") '
            "{ totalCount } }"
        },
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a NUL inside a decoded global id": (
        {
            "query": f'{{ node(id: "{base64.b64encode(b"Student:a" + bytes(1)).decode()}") '
            "{ id } }"
        },
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a cursor of another connection": (
        {"query": f'{{ students(after: "{_cursor(b"plan:5")}") {{ totalCount }} }}'},
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "40,000 values in an `in` filter": (
        {
            "query": "query($n: [String!]) { students(filter: {netid: {in: $n}}) { totalCount } }",
            "variables": {"n": [f"x{i}" for i in range(40000)]},
        },
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "first past the page size": (
        {"query": "{ students(first: 101) { totalCount } }"},
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a negative first": (
        {"query": "{ plans(first: -1) { totalCount } }"},
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a subscription over HTTP": (
        {"query": 'subscription { taskUpdated(taskId: "x") { status } }'},
        400,
        "BAD_REQUEST",
        True,
    ),
    "a document that is only a fragment": (
        {"query": "fragment F on Query { __typename }"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "an invalid document and an operationName it does not hold": (
        {"query": "{ __typename } fragment F on Query { __typename }", "operationName": "A"},
        200,
        "GRAPHQL_VALIDATION_FAILED",
        True,
    ),
    "a first past a 64-bit integer": (
        {
            "query": f"query($n: Int) {{ {NESTED_STUDENTS} }}",
            "variables": {"n": 2**63},
        },
        200,
        "BAD_USER_INPUT",
        True,
    ),
    "a cost past what a 64-bit integer holds": (
        {
            "query": "query($n: Int) { "  # 10 x 2^31 x 10^9 (each nested list counts 10)
            + " ".join(
                f"a{i}: plans(first: $n) {{ edges {{ node {{ {_nested_children(9)} }} }} }}"
                for i in range(10)
            )
            + " }",
            "variables": {"n": 2**31 - 1},
        },
        200,
        "MAX_COST_EXCEEDED",
        True,
    ),
    "a body that is not JSON": (b"{query", 400, "BAD_REQUEST", True),
    "a JSON list for a body": (b"[1, 2]", 400, "BAD_REQUEST", True),
    "a body past MAX_BODY_BYTES": (
        {"query": Q["query"] + " " * (1024 * 1024)},
        413,
        "PAYLOAD_TOO_LARGE",
        True,
    ),
}


@pytest.mark.parametrize("name", list(CORPUS))
async def test_refused_clearly(client, auth, sql_counter, name):
    body, status, code, before_sql = CORPUS[name]
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    sql_counter.statements.clear()
    response = await client.post(
        "/graphql",
        content=content,
        headers={**auth(), "Content-Type": "application/json", "Accept": "application/json"},
    )
    assert response.status_code == status, response.text[:400]
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == code, errors[0]
    assert len(errors) <= 3, errors  # one clear error, not one per repetition
    assert_clean(response)
    if before_sql:
        assert sql_counter.count == 0, sql_counter.statements


async def test_a_mutation_over_get_is_405(client, auth, sql_counter):
    response = await client.get(
        "/graphql",
        params={"query": 'mutation { setDplans(netid: "x", dplans: []) { id } }'},
        headers=auth(),
    )
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert sql_counter.count == 0


def test_the_corpus_is_large_enough():
    assert len(CORPUS) + 1 >= 30
