"""GRAPHQL_FEDERATION: the subgraph's `_entities` and `_service` over /graphql, keeping every
rule `student(netid:)` keeps (scopes, FERPA, disclosure records, statements, cost, depth).
Through a real gateway: tests/federation/test_gateway.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from app.clock import Clock
from app.config import Settings
from app.main import create_app
from app.models import Disclosure
from tests.conftest import counting_statements
from tests.factories import make_dplan, make_plan, make_student, make_term, student_records
from tests.graphql_client import gql, gql_data

ROOT = Path(__file__).resolve().parents[2]
# What a gateway sends: the representations as a variable, a fragment per entity type.
ENTITIES = """query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Student { netid name terms { termId quarterlyTerm { id } } dplans { dplanId } }
    ... on AcademicPlan { planId name student { netid } }
    ... on SisTerm { id name currentTermOffset }
  } }"""
STUDENT_PAGE = """query($netid: String!) { student(netid: $netid) {
  netid name terms { termId quarterlyTerm { id } } dplans { dplanId } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"graphql_federation": True})


@asynccontextmanager
async def served(settings: Settings, clock: Clock) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """An app of its own (other limits), and a client of it."""
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client, app


def students(*netids: str) -> list[dict[str, str]]:
    return [{"__typename": "Student", "netid": n} for n in netids]


async def entities(client, headers, representations: list[Any]) -> list[Any]:
    data = await gql_data(client, ENTITIES, headers, {"representations": representations})
    return data["_entities"]  # type: ignore[no-any-return]


async def _world(session) -> None:
    await make_student(session, netid="open1", first_name="Ada", last_name="Open")
    await make_student(session, netid="hidden1", ferpa_protected=True)
    for netid in ("open1", "hidden1"):
        await make_term(session, netid, "201809")
        await make_dplan(session, netid, "201809")
    await make_plan(session, "open1", id=778, name="ECON-MAJOR")
    await make_plan(session, "hidden1", id=777)
    await session.commit()


class TestEntities:
    async def test_students_in_the_order_given_as_student_answers_each(self, client, session, auth):
        await _world(session)
        reader = auth(STUDENTS_READ)
        found = await entities(client, reader, students("open1", "nobody", "open1"))
        alone = await gql_data(client, STUDENT_PAGE, reader, {"netid": "open1"})
        shown = {"__typename": "Student", **alone["student"]}
        assert found == [shown, None, shown]
        assert shown["name"] == "Ada Open"
        assert shown["terms"] == [{"termId": "201809-U", "quarterlyTerm": {"id": "201809"}}]

    async def test_a_protected_student_is_null_exactly_as_an_unknown_one(
        self, client, session, auth
    ):
        await _world(session)
        reader = auth(STUDENTS_READ)
        hidden, unknown = [
            await client.post(
                "/graphql",
                json={"query": ENTITIES, "variables": {"representations": students(netid)}},
                headers=reader,
            )
            for netid in ("hidden1", "nobody")
        ]
        assert hidden.status_code == unknown.status_code == 200
        assert hidden.content == unknown.content
        assert hidden.json()["data"] == {"_entities": [None]}
        private = await entities(client, auth(STUDENTS_READ, PEOPLE_PRIVATE), students("hidden1"))
        assert private[0]["netid"] == "hidden1"

    async def test_plans_of_hidden_students_and_bad_ids_are_null(self, client, session, auth):
        await _world(session)
        plans = [{"__typename": "AcademicPlan", "planId": p} for p in ("778", "777", "x", "9")]
        found = await entities(client, auth(STUDENTS_READ), plans)
        assert found == [
            {
                "__typename": "AcademicPlan",
                "planId": "778",
                "name": "ECON-MAJOR",
                "student": {"netid": "open1"},
            },
            None,
            None,
            None,
        ]
        private = await entities(client, auth(STUDENTS_READ, PEOPLE_PRIVATE), plans)
        assert [p and p["planId"] for p in private] == ["778", "777", None, None]

    async def test_sis_terms_need_only_a_token(self, client, auth):
        terms = [{"__typename": "SisTerm", "id": i} for i in ("201909", "209901", "201906")]
        found = await entities(client, auth("none"), terms)
        # the seed day (2019-07-01) is in the summer term 201906
        assert found == [
            {
                "__typename": "SisTerm",
                "id": "201909",
                "name": "Fall Term 2019",
                "currentTermOffset": 1,
            },
            None,
            {
                "__typename": "SisTerm",
                "id": "201906",
                "name": "Summer Term 2019",
                "currentTermOffset": 0,
            },
        ]

    async def test_types_mixed_keep_their_order(self, client, session, auth):
        await _world(session)
        mixed = [
            {"__typename": "SisTerm", "id": "201809"},
            {"__typename": "Student", "netid": "open1"},
            {"__typename": "AcademicPlan", "planId": "778"},
        ]
        found = await entities(client, auth(STUDENTS_READ), mixed)
        assert [e["__typename"] for e in found] == ["SisTerm", "Student", "AcademicPlan"]

    async def test_student_data_needs_read_sensitive(self, client, session, auth):
        await _world(session)
        for representations in (
            students("open1"),
            [{"__typename": "AcademicPlan", "planId": "778"}],
        ):
            body = await gql(
                client,
                ENTITIES,
                auth(STUDENTS_WRITE, PEOPLE_PRIVATE),
                {"representations": representations},
            )
            assert body["data"] is None
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "FORBIDDEN"
            assert error["path"] == ["_entities"]
            assert STUDENTS_READ in error["message"]

    async def test_no_token_is_refused_as_any_request(self, client):
        response = await client.post(
            "/graphql", json={"query": ENTITIES, "variables": {"representations": []}}
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


class TestDisclosures:
    async def test_references_shown_are_recorded_as_reads(self, client, session, auth):
        await _world(session)
        given = [
            *students("open1", "hidden1", "nobody"),
            {"__typename": "AcademicPlan", "planId": "777"},
        ]
        response = await client.post(
            "/graphql",
            json={"query": ENTITIES, "variables": {"representations": given}},
            headers=auth(STUDENTS_READ, sub="gateway-user"),
        )
        assert response.json()["data"]["_entities"][1:] == [None, None, None]
        shown = await student_records(
            session, Disclosure.request_id == response.headers["x-request-id"]
        )
        assert [(r.netid, r.record_types, r.operation, r.sub) for r in shown] == [
            ("open1", "dplans,student,terms", "query Entities", "gateway-user")
        ]


class TestStatements:
    async def test_constant_in_the_number_of_references(self, client, session, auth, sql_counter):
        for i in range(100):
            await make_student(session, netid=f"n{i:04d}")
            await make_term(session, f"n{i:04d}", "201809")
            await make_dplan(session, f"n{i:04d}", "201809")
        await session.commit()
        netids = [f"n{i:04d}" for i in range(100)]
        await entities(client, auth(), students(*netids[:1]))  # the current term is kept
        counts = {}
        for n in (5, 100):
            sql_counter.statements.clear()
            found = await entities(client, auth(), students(*netids[:n]))
            assert [s["netid"] for s in found] == netids[:n]
            assert all(len(s["terms"]) == len(s["dplans"]) == 1 for s in found)
            counts[n] = sql_counter.count
        # the students, their terms, their D-plans, the disclosure records
        assert counts == {5: 4, 100: 4}, sql_counter.statements


class TestLimits:
    async def test_n_references_cost_n_objects(self, client, session, auth):
        await _world(session)
        for n in (1, 100):
            body = await gql(client, ENTITIES, auth(), {"representations": students("open1") * n})
            assert body.get("errors") is None, body
            # each: 1 + the Student fragment (terms 10 x (1 + quarterlyTerm 1), dplans 10 x 1)
            # + the AcademicPlan fragment (student 1); the SisTerm one has no object
            assert body["extensions"]["cost"]["requested"] == n * (1 + 20 + 10 + 1)

    async def test_the_budget_draws_them_and_the_maximum_refuses_them(self, settings, clock, auth):
        limited = settings.model_copy(
            update={"rate_limit_cost_per_minute": 5000, "graphql_max_cost": 5000}
        )
        async with served(limited, clock) as (client, app):
            hundred = {"representations": students("open1") * 100}  # 3,200
            with counting_statements(app) as sql:
                first = await gql(client, ENTITIES, auth(sub="budgeted"), hundred)
                drawn = sql.count
                sql.statements.clear()
                again = await client.post(
                    "/graphql",
                    json={"query": ENTITIES, "variables": hundred},
                    headers=auth(sub="budgeted"),
                )
                too_many = {"representations": students("open1") * 157}  # 5,024
                over = await gql(client, ENTITIES, auth(sub="other"), too_many)
            assert drawn > 0 and sql.count == 0
        status = first["extensions"]["cost"]["throttleStatus"]
        assert status["currentlyAvailable"] == 5000 - 3200
        assert again.status_code == 429
        assert again.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert over["errors"][0]["extensions"] == {
            "code": "MAX_COST_EXCEEDED",
            "cost": {"requested": 5024, "maximum": 5000},
        }

    async def test_depth_counts_them(self, settings, clock, auth):
        shallow = settings.model_copy(update={"graphql_max_depth": 2})
        async with served(shallow, clock) as (client, _):
            deep = await gql(client, ENTITIES, auth(), {"representations": []})
            flat = await gql_data(
                client,
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Student "
                "{ terms { termId } } } }",
                auth(),
                {"r": []},
            )
        assert deep["errors"][0]["message"] == "'Entities' exceeds maximum operation depth of 2"
        assert flat == {"_entities": []}


class TestService:
    async def test_sdl_is_the_committed_subgraph_schema(self, client, auth):
        data = await gql_data(client, "{ _service { sdl } }", auth("none"))
        assert data["_service"]["sdl"] + "\n" == (ROOT / "schema.subgraph.graphql").read_text()

    async def test_off_by_default(self, settings, clock, auth):
        async with served(settings.model_copy(update={"graphql_federation": False}), clock) as (
            client,
            _,
        ):
            body = await gql(client, "{ _service { sdl } }", auth())
        assert "Cannot query field '_service' on type 'Query'." in body["errors"][0]["message"]
