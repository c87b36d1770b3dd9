"""Input checked in time linear in its size before graphql-core coerces it or the database is
asked (issue 19, finding 5): a variable of 10,000 unknown keys took 13.9 s of event loop, and a
PATCH of 33,000 distinct term codes reached the database (past asyncpg's 32,767 arguments) and
was answered 503 "database unavailable". And a driver error that is no outage is never said to
be one."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest
from asyncpg.exceptions import ConnectionDoesNotExistError, InterfaceError
from asyncpg.exceptions._base import DataError as ArgumentError

from app import db as database
from app.auth.scopes import ALL_SCOPES
from app.graphql.inputs import MAX_INPUT_DEPTH, MAX_LIST_ITEMS
from tests.conftest import bearer, counting_statements
from tests.factories import make_student
from tests.hostile import INTERNALS, assert_clean
from tests.hostile.stalls import loop_prober

NETID = "f00inp1"
STUDENTS = "query($f: StudentFilter) { students(filter: $f) { totalCount } }"
IDS = "query($ids: [String!]) { students(filter: {netid: {in: $ids}}) { totalCount } }"
FIRST = "query($n: Int) { students(first: $n) { totalCount } }"
SET_DPLANS = (
    'mutation($d: [DplanInput!]!) { setDplans(netid: "' + NETID + '", dplans: $d) { taskId } }'
)


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"netid": {"eq": NETID}}
    for _ in range(levels - 1):
        value = {"not": value}
    return value


def _dplans(count: int, *fields: str) -> list[dict[str, str]]:
    """`count` entries, each naming its own term code (none of them known), and `fields`."""
    return [{"termCode": f"{100000 + i}", **dict.fromkeys(fields, "R")} for i in range(count)]


# name: (document, variables, the problem's place, what it says)
GRAPHQL_CORPUS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "an input object of 10,000 unknown keys": (
        STUDENTS,
        {"f": {f"k{i}": 1 for i in range(10_000)}},
        "$f",
        "has 10000 keys; StudentFilter has 5 fields",
    ),
    "an unknown key": (
        STUDENTS,
        {"f": {"netid": {"eq": NETID}, "bogus": 1}},
        "$f.bogus",
        "is not a field of StudentFilter",
    ),
    "an unknown key deep inside": (
        STUDENTS,
        {"f": {"not": {"netid": {"eq": NETID, "like": "%"}}}},
        "$f.not.netid.like",
        "is not a field of StringFilter",
    ),
    "input objects nested too deep": (
        STUDENTS,
        {"f": _nested(MAX_INPUT_DEPTH + 1)},
        "$f" + ".not" * MAX_INPUT_DEPTH,
        f"nests input objects deeper than {MAX_INPUT_DEPTH}",
    ),
    "a list of 100,000 values": (
        IDS,
        {"ids": ["a"] * 100_000},
        "$ids",
        f"has 100000 items; at most {MAX_LIST_ITEMS} are taken",
    ),
    "a list where an Int is expected": (
        FIRST,
        {"n": list(range(50_000))},
        "$n",
        "is a list where a Int is expected",
    ),
    "setDplans with 33,000 D-plans": (
        SET_DPLANS,
        {"d": _dplans(33_000)},
        "$d",
        f"has 33000 items; at most {MAX_LIST_ITEMS} are taken",
    ),
}


@pytest.fixture
async def student(session):
    await make_student(session, netid=NETID)
    await session.commit()


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("name", GRAPHQL_CORPUS)
async def test_variables_are_checked_before_graphql_core_sees_them(app, settings, student, name):
    document, variables, place, what = GRAPHQL_CORPUS[name]
    headers = bearer(settings, *ALL_SCOPES)
    async with _client(app) as client, loop_prober(client) as prober:
        with counting_statements(app) as statements:
            body = {"query": document, "variables": variables}
            answer = await client.post("/graphql", json=body, headers=headers)
    prober.assert_no_stall()
    assert statements.count == 0
    assert answer.status_code == 200, answer.text
    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == f"variable {place} {what}"
    assert_clean(answer)


async def test_within_the_limits_the_same_documents_run(client, auth, student):
    for document, variables in (
        (STUDENTS, {"f": _nested(MAX_INPUT_DEPTH - 1)}),
        (IDS, {"ids": [NETID] * MAX_LIST_ITEMS}),
        (FIRST, {"n": 5}),
    ):
        body = {"query": document, "variables": variables}
        answer = (await client.post("/graphql", json=body, headers=auth())).json()
        assert "errors" not in answer, answer


async def test_set_dplans_past_its_100_is_refused_before_the_database(app, settings, student):
    """Under the list bound, past the service's own: its limit before any lookup."""
    headers = bearer(settings, *ALL_SCOPES)
    async with _client(app) as client:
        with counting_statements(app) as statements:
            variables = {"d": _dplans(1000, "dplanId", "dplanSourceId")}
            body = {"query": SET_DPLANS, "variables": variables}
            answer = await client.post("/graphql", json=body, headers=headers)
    assert statements.count == 0
    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["problems"] == [
        {"loc": "dplans", "message": "at most 100 dplans per request"}
    ]


async def test_a_patch_of_33000_term_codes_is_refused_before_the_database(app, settings, student):
    """More distinct term codes than asyncpg binds (32,767), sent as the attacker sent them:
    only `term_code` (all the lookup reads), so that they fit in MAX_BODY_BYTES."""
    entries = [{"term_code": f"{100000 + i}"} for i in range(33_000)]
    headers = {**bearer(settings, *ALL_SCOPES), "Content-Type": "application/json"}
    async with _client(app) as client, loop_prober(client) as prober:
        with counting_statements(app) as statements:
            answer = await client.patch(
                f"/api/students/{NETID}", content=orjson.dumps({"dplans": entries}), headers=headers
            )
    prober.assert_no_stall()
    assert statements.count == 0
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"] == [
        {"loc": "dplans", "message": "at most 100 dplans per request"}
    ]
    assert_clean(answer)


class TestDriverErrors:
    """Only a connection-level failure is an outage (503, retry); a driver error about the
    statement is a masked 500 with its cause in the log."""

    @pytest.mark.parametrize(
        "error",
        [
            InterfaceError("the number of query arguments cannot exceed 32767"),
            # asyncpg's own DataError (an InterfaceError), not the server's SQLSTATE 22 class
            # of the same name, which is exported as asyncpg.exceptions.DataError.
            ArgumentError("invalid input for query argument $1: 'x' (an integer is required)"),
        ],
        ids=["too many arguments", "an argument of the wrong type"],
    )
    async def test_a_statement_error_is_a_masked_500(self, app, auth, monkeypatch, caplog, error):
        async def failing(*_args: Any) -> None:
            raise error

        monkeypatch.setattr(database, "_run_lone", failing)
        with caplog.at_level(logging.ERROR):
            async with _client(app) as client:
                answer = await client.get(f"/api/students/{NETID}", headers=auth())
        assert answer.status_code == 500, answer.text
        assert answer.json()["code"] == "INTERNAL"
        assert "unavailable" not in answer.text
        assert not [word for word in INTERNALS if word in answer.text]
        (logged,) = [r for r in caplog.records if r.getMessage() == "unhandled error"]
        assert logged.exc_info is not None and logged.exc_info[1] is error

    @pytest.mark.parametrize(
        "error",
        [InterfaceError("connection is closed"), ConnectionDoesNotExistError("gone")],
        ids=["closed", "does not exist"],
    )
    async def test_a_lost_connection_is_an_outage(self, app, auth, monkeypatch, error):
        async def failing(*_args: Any) -> None:
            raise error

        monkeypatch.setattr(database, "_run_lone", failing)
        async with _client(app) as client:
            answer = await client.get(f"/api/students/{NETID}", headers=auth())
        assert answer.status_code == 503
        assert answer.json()["code"] == "SERVICE_UNAVAILABLE"
