"""The planner against the dataloaders: the same bytes either way, on both databases.

Every document here runs through the app with the planner on (`client`) and off
(`loaders_client`), on one database, and the two response bodies must be byte-identical. (Every
GraphQL request the rest of the suite sends is compared the same way: `tests/conftest.py`.)"""

from __future__ import annotations

import orjson
import pytest

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, TASKS_WRITE
from app.graphql.schema import build_schema
from tests.graphql.documents import DocumentGenerator, global_id
from tests.graphql.planner_world import build_world

GENERATED = 1000
CALLERS = {
    "everything": (),
    "read": (STUDENTS_READ,),
    "read and private": (STUDENTS_READ, PEOPLE_PRIVATE),
    "no read scope": (TASKS_WRITE,),
}


async def both(client, loaders_client, headers, query, variables=None):
    body = {"query": query, "variables": variables}
    planned = await client.post("/graphql", json=body, headers=headers)
    loaded = await loaders_client.post("/graphql", json=body, headers=headers)
    return planned, loaded


@pytest.fixture
async def world(session):
    return await build_world(session)


class TestSameBytes:
    async def test_generated_documents(self, app, client, loaders_client, auth, world):
        generator = DocumentGenerator(build_schema()._schema, world, seed=20261130)
        headers = {name: auth(*scopes) for name, scopes in CALLERS.items()}
        planner = app.state.graphql_planner
        answered_before = planner.answered
        for n in range(GENERATED):
            query, variables = generator.document()
            caller = list(CALLERS)[n % len(CALLERS)]
            planned, loaded = await both(client, loaders_client, headers[caller], query, variables)
            assert (planned.status_code, planned.content) == (loaded.status_code, loaded.content), (
                f"document {n} as {caller!r}:\n{query}\n{variables}"
            )
        # Not vacuous: most documents were answered by the planner (the rest hold an error, an
        # unplanned field, or come from a caller without the read scope).
        assert planner.answered - answered_before > GENERATED // 3

    @pytest.mark.parametrize("caller", sorted(CALLERS))
    async def test_hidden_students_everywhere(self, client, loaders_client, auth, world, caller):
        hidden, plan = world.hidden[0], world.hidden_plan_ids[0]
        query = f"""{{
          student(netid: "{hidden}") {{ netid }}
          node(id: "{global_id("Student", hidden)}") {{ id }}
          plan(id: "{plan}") {{ planId student {{ netid }} }}
          students(first: 100, filter: {{netid: {{in: ["{hidden}", "w000001"]}}}}) {{
            totalCount edges {{ cursor node {{ netid }} }}
            pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }}
          plans(first: 100) {{ totalCount edges {{ node {{ planId parent {{ planId }} }} }} }}
        }}"""
        planned, loaded = await both(client, loaders_client, auth(*CALLERS[caller]), query)
        assert planned.content == loaded.content
        if caller == "read":
            assert hidden not in planned.text and str(plan) not in planned.text


class TestPlannedAnswers:
    async def test_a_hidden_student_reads_as_an_unknown_one(self, client, auth, world):
        hidden, unknown = world.hidden[0], "nobody"
        for template in ('student(netid: "{}")', 'node(id: "{}")'):
            answers = []
            for netid in (hidden, unknown):
                key = global_id("Student", netid) if template.startswith("node") else netid
                query = "{ x: " + template.format(key) + " { id } }"
                response = await client.post(
                    "/graphql", json={"query": query}, headers=auth(STUDENTS_READ)
                )
                answers.append(response.content)
            assert answers[0] == answers[1]
            assert orjson.loads(answers[0])["data"] == {"x": None}

    async def test_a_missing_scope_is_the_resolvers_error(self, client, auth, world):
        response = await client.post(
            "/graphql", json={"query": "{ students { totalCount } }"}, headers=auth(TASKS_WRITE)
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    async def test_the_setting_turns_it_off(self, loaders_app, loaders_client, auth, world):
        assert loaders_app.state.graphql_planner is None
        response = await loaders_client.post(
            "/graphql", json={"query": "{ dplanCodes { id } }"}, headers=auth()
        )
        assert response.status_code == 200
