"""`_entities` (GRAPHQL_FEDERATION) given what no gateway sends: each representation must be
`{"__typename": <an entity type>, <its key>: <a string>}` and nothing more, and the first that is
not is named (BAD_USER_INPUT, `representations[i]`) before the database is asked, in time linear
in what was sent; a list past MAX_LIST_ITEMS is refused before graphql-core coerces it."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from app.auth.scopes import ALL_SCOPES
from app.config import Settings
from app.graphql.inputs import MAX_LIST_ITEMS
from tests.conftest import bearer, counting_statements
from tests.factories import make_student
from tests.hostile import assert_clean
from tests.hostile.stalls import loop_prober

ENTITIES = """query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Student { netid } } }"""
STUDENT = {"__typename": "Student", "netid": "f00rep1"}
NO_TYPE = "has no `__typename` naming an entity type (Student, AcademicPlan, SisTerm)"


def _nested(levels: int) -> Any:
    value: Any = "f00rep1"
    for _ in range(levels):
        value = {"netid": value}
    return value


# name: (the second representation, what is said of it)
CORPUS: dict[str, tuple[Any, str]] = {
    "a string": ("f00rep1", "is not an object"),
    "a list": ([STUDENT], "is not an object"),
    "null inside": ({"__typename": None, "netid": "f00rep1"}, NO_TYPE),
    "no __typename": ({"netid": "f00rep1"}, NO_TYPE),
    "a type that is no entity": ({"__typename": "Task", "taskId": "1"}, NO_TYPE),
    "an introspection type": ({"__typename": "__Schema", "netid": "f00rep1"}, NO_TYPE),
    "a __typename of 500,000 characters": ({"__typename": "S" * 500_000}, NO_TYPE),
    "the key misspelt": (
        {"__typename": "Student", "netId": "f00rep1"},
        "has no `netid` string, the key of Student",
    ),
    "another type's key": (
        {"__typename": "AcademicPlan", "netid": "f00rep1"},
        "has no `planId` string, the key of AcademicPlan",
    ),
    "a number for a key": (
        {"__typename": "Student", "netid": 7},
        "has no `netid` string, the key of Student",
    ),
    "a key nested 20 deep": (
        {"__typename": "Student", "netid": _nested(20)},
        "has no `netid` string, the key of Student",
    ),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"graphql_federation": True})


@pytest.fixture
async def student(session):
    await make_student(session, netid="f00rep1")
    await session.commit()


async def _send(app: Any, settings: Settings, representations: Any) -> tuple[httpx.Response, int]:
    """The answer, and the statements the app ran for it; no request held the loop."""
    transport = httpx.ASGITransport(app=app)
    body = orjson.dumps({"query": ENTITIES, "variables": {"representations": representations}})
    headers = {**bearer(settings, *ALL_SCOPES), "Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        async with loop_prober(client) as prober:
            with counting_statements(app) as statements:
                answer = await client.post("/graphql", content=body, headers=headers)
        prober.assert_no_stall()
    assert_clean(answer)
    return answer, statements.count


@pytest.mark.parametrize("name", CORPUS)
async def test_a_bad_representation_is_named_before_the_database(app, settings, student, name):
    representation, what = CORPUS[name]
    answer, statements = await _send(app, settings, [STUDENT, representation])
    assert statements == 0
    assert answer.status_code == 200
    body = answer.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["problems"] == [{"loc": "representations[1]", "message": what}]
    assert error["message"] == f"argument representations[1] {what}"


@pytest.mark.parametrize("fields", [1, 50_000])
async def test_more_fields_than_a_key_are_refused_before_anything_reads_them(
    app, settings, student, fields
):
    more = {**STUDENT, **{f"k{i}": i for i in range(fields)}}
    answer, statements = await _send(app, settings, [STUDENT, more])
    assert statements == 0
    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    expected = f"has {fields + 2} fields; a representation has `__typename` and its key"
    assert error["message"] == f"variable $representations[1] {expected}"


async def test_a_literal_one_with_another_field_is_named(app, settings, student):
    literal = """{ _entities(representations: [{__typename: "Student", netid: "f00rep1"},
                    {__typename: "Student", netid: "f00rep1", name: "x"}]) { __typename } }"""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        headers = bearer(settings, *ALL_SCOPES)
        answer = await client.post("/graphql", json={"query": literal}, headers=headers)
    (error,) = answer.json()["errors"]
    assert error["extensions"]["problems"] == [
        {"loc": "representations[1]", "message": "has fields besides `__typename` and `netid`"}
    ]


async def test_past_the_list_bound_before_graphql_core(app, settings, student):
    answer, statements = await _send(app, settings, [STUDENT] * (MAX_LIST_ITEMS + 1))
    assert statements == 0
    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    expected = f"has {MAX_LIST_ITEMS + 1} items; at most {MAX_LIST_ITEMS} are taken"
    assert error["message"] == f"variable $representations {expected}"


@pytest.mark.parametrize(
    ("representation", "what"),
    [
        ({"__typename": "Student", "netid": "f\x00"}, "contains a NUL character"),
        ({"__typename": "Student", "netid": _nested(200)}, "nests JSON more than 32 levels"),
    ],
    ids=["a NUL", "200 levels deep"],
)
async def test_what_no_request_may_hold_is_refused_at_the_door(
    app, settings, student, representation, what
):
    answer, statements = await _send(app, settings, [representation])
    assert statements == 0
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert what in error["message"]


async def test_within_the_bound_they_are_read(app, settings, student):
    answer, _ = await _send(app, settings, [STUDENT] * MAX_LIST_ITEMS)
    body = answer.json()
    assert "errors" not in body, body
    assert body["data"]["_entities"] == [{"netid": "f00rep1"}] * MAX_LIST_ITEMS
