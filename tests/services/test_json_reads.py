"""`data_json`: one statement answers every root field; the read scope and page sizes are checked
before any SQL runs; FERPA-protected students are null or absent without people:private."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import event

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, Principal
from app.db import statement_hooks
from app.errors import Forbidden, Invalid
from app.repositories.json_reads import Pick, RootQuery
from app.services.json_reads import data_json
from tests.factories import make_student

NOW = datetime(2019, 7, 1, 12, 0, tzinfo=UTC)
MAX = 5
READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ}))
PRIVATE_READER = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ, PEOPLE_PRIVATE}))
NO_READ = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_WRITE, PEOPLE_PRIVATE}))
NAME = (Pick("netid", "netid"), Pick("firstName", "firstName"))
CONNECTION = (
    Pick("edges", "edges", (Pick("node", "node", (Pick("netid", "netid"),)),)),
    Pick("pageInfo", "pageInfo", (Pick("hasNextPage", "hasNextPage"),)),
    Pick("totalCount", "totalCount"),
)


def student(netid: str, key: str = "s") -> RootQuery:
    return RootQuery(key, "student", NAME, {"netid": netid})


def students(first: int, key: str = "all") -> RootQuery:
    args = {"conditions": [], "first": first, "after": None, "has_previous": False}
    return RootQuery(key, "students", CONNECTION, args)


async def data(engine, principal, *queries: RootQuery) -> dict:
    text = await data_json(engine, principal, list(queries), now=NOW, max_page_size=MAX)
    assert isinstance(text, str)
    return orjson.loads(text)


@contextmanager
def statements_run(engine) -> Iterator[list[str]]:
    """Every statement run: through SQLAlchemy, or straight on the driver (`fetch_row`)."""
    seen: list[str] = []

    def on_cursor(*args) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", on_cursor)
    statement_hooks.append(seen.append)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_cursor)
        statement_hooks.remove(seen.append)


@pytest.fixture
async def world(session):
    for netid in ("f000a01", "f000a02", "f000a04"):
        await make_student(session, netid=netid, first_name=f"Name{netid[-1]}")
    await make_student(session, netid="f000a03", first_name="Hidden", ferpa_protected=True)
    await session.commit()


class TestDataJson:
    async def test_one_statement_for_every_root(self, engine, world):
        with statements_run(engine) as seen:
            answer = await data(engine, READER, student("f000a01", "a"), student("f000a02", "b"))

        assert answer == {
            "a": {"netid": "f000a01", "firstName": "Name1"},
            "b": {"netid": "f000a02", "firstName": "Name2"},
        }
        assert len(seen) == 1

    async def test_hidden_student_is_null_like_unknown(self, engine, world):
        answer = await data(engine, READER, student("f000a03", "hid"), student("f000zzz", "unk"))

        assert answer == {"hid": None, "unk": None}

    async def test_people_private_sees_the_hidden_student(self, engine, world):
        answer = await data(engine, PRIVATE_READER, student("f000a03"))

        assert answer == {"s": {"netid": "f000a03", "firstName": "Hidden"}}

    async def test_a_connection_page(self, engine, world):
        answer = await data(engine, READER, students(2))

        assert answer["all"] == {
            "edges": [{"node": {"netid": "f000a01"}}, {"node": {"netid": "f000a02"}}],
            "pageInfo": {"hasNextPage": True},
            "totalCount": 3,
        }

    async def test_a_connection_with_people_private(self, engine, world):
        page = (await data(engine, PRIVATE_READER, students(MAX)))["all"]

        assert [e["node"]["netid"] for e in page["edges"]] == [f"f000a0{n}" for n in range(1, 5)]
        assert (page["pageInfo"]["hasNextPage"], page["totalCount"]) == (False, 4)

    async def test_a_plan_id_that_names_no_plan_is_null(self, engine, world):
        plan = RootQuery("p", "plan", (Pick("name", "name"),), {"id": None})

        assert await data(engine, READER, plan) == {"p": None}


class TestAccess:
    @pytest.mark.parametrize(
        "query",
        [
            student("f000a01"),
            students(1),
            RootQuery("p", "plan", (Pick("name", "name"),), {"id": 1}),
            RootQuery("ps", "plans", CONNECTION[2:], dict(students(1).args)),
        ],
        ids=["student", "students", "plan", "plans"],
    )
    async def test_forbidden_before_any_sql(self, engine, world, query):
        typename = RootQuery("t", "__typename")
        with statements_run(engine) as seen, pytest.raises(Forbidden, match=STUDENTS_READ):
            await data(engine, NO_READ, typename, query)
        assert seen == []

    async def test_reference_data_needs_no_scope(self, engine, world):
        codes = RootQuery("codes", "dplanCodes", (Pick("id", "id"),))
        nobody = Principal(sub="f003ghc", scopes=frozenset())

        answer = await data(engine, nobody, RootQuery("t", "__typename"), codes)

        assert answer["t"] == "Query"
        assert {"id": "R"} in answer["codes"]


class TestPageSize:
    @pytest.mark.parametrize("first", [-1, MAX + 1])
    async def test_checked_before_any_sql(self, engine, world, first):
        with statements_run(engine) as seen, pytest.raises(Invalid) as caught:
            await data(engine, READER, student("f000a01"), students(first))

        assert [p.loc for p in caught.value.problems] == ["first"]
        assert seen == []

    @pytest.mark.parametrize("first", [0, MAX])
    async def test_the_bounds_are_allowed(self, engine, world, first):
        page = (await data(engine, READER, students(first)))["all"]

        assert len(page["edges"]) == min(first, 3)
