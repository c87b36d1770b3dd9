"""The document limits cost time linear in the document (counted, not clocked); cost is reported
on every answered operation; production hides introspection and suggestions."""

from __future__ import annotations

import time

import jwt
import pytest
from graphql import parse

from app.auth import STUDENTS_READ
from app.graphql.costs import cost
from app.graphql.limits import Limits, measure, operation_of
from app.graphql.schema import build_schema
from app.main import create_app
from tests.hostile.test_graphql_documents import _fragment_bomb


class TestLinear:
    @pytest.mark.parametrize("levels", [9, 18, 40])
    def test_a_fragment_is_measured_once_however_often_it_is_spread(self, levels):
        found = measure(parse(_fragment_bomb(levels)))
        # Each fragment's two spreads are looked at once: 2 per level, plus the operation's.
        assert found.visited == 2 * levels + 2
        assert found.repeats == ("__typename", 2**levels)

    def test_cost_is_counted_with_the_same_memo(self):
        schema = build_schema()._schema
        document = parse(_fragment_bomb(60))
        operation = operation_of(document, None)
        assert operation is not None
        assert cost(schema, document, operation, {}) == 0  # __typename costs nothing

    def test_depth_and_aliases_count_every_spread(self):
        document = parse(
            '{ ...A ...A } fragment A on Query { x: student(netid: "1") { terms { id } } }'
        )
        found = measure(document)
        assert found.aliases == 2 and found.depths == {"anonymous": 2}


class TestCost:
    async def test_every_answered_operation_reports_it(self, client, auth):
        query = "{ students(first: 10) { edges { node { terms { id } } } } dplanCodes { id } }"
        body = (await client.post("/graphql", json={"query": query}, headers=auth())).json()
        # students: 10 x (1 + edges 1 + node 1 + terms 10 x 1); dplanCodes: 10 x 1
        assert body["extensions"]["cost"] == {"requested": 10 * 13 + 10, "maximum": 25000}

    async def test_a_count_costs_what_it_may_disclose(self, client, auth):
        """A `totalCount` may record up to k students as disclosed (DISCLOSURE_COUNT_THRESHOLD,
        5), and a filter's listed values as many as it names: each counts, through fragments
        and variables too, so the budget bounds the records counts can write."""
        netids = [f"f00{i:04d}" for i in range(40)]
        query = """query($in: [String!]!, $f: StudentFilter) {
          a: students(first: 0, filter: {netid: {in: $in}}) { ...C }
          b: students(first: 0, filter: $f) { totalCount totalCount: totalCount }
        } fragment C on StudentConnection { totalCount }"""
        variables = {"in": netids, "f": {"netid": {"in": netids[:3]}}}
        body = {"query": query, "variables": variables}
        answer = (await client.post("/graphql", json=body, headers=auth())).json()
        assert "errors" not in answer, answer
        assert answer["extensions"]["cost"]["requested"] == (5 + 40) + (2 * 5 + 3)

    async def test_the_maximum_is_a_setting(self, settings, clock, auth):
        app = create_app(settings.model_copy(update={"graphql_max_cost": 5}), clock=clock)
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            body = (
                await client.post(
                    "/graphql", json={"query": "{ dplanCodes { id } }"}, headers=auth()
                )
            ).json()
        assert body["errors"][0]["extensions"] == {
            "code": "MAX_COST_EXCEEDED",
            "cost": {"requested": 10, "maximum": 5},
        }
        assert "data" not in body


def _production_token(settings) -> dict[str, str]:
    """`mint` refuses production; a token signed with the production secret, as an IdP would."""
    now = int(time.time())
    claims = {"sub": "f003ghc", "scope": STUDENTS_READ, "iat": now, "exp": now + 600}
    return {"Authorization": "Bearer " + jwt.encode(claims, settings.jwt_secret, "HS256")}


class TestProduction:
    @pytest.fixture
    async def production(self, settings, clock):
        import httpx

        production = settings.model_copy(
            update={"environment": "production", "jwt_secret": "p" * 40, "clock_now": None}
        )
        app = create_app(production, clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            yield production, client

    async def test_no_suggestions(self, production):
        settings, client = production
        headers = _production_token(settings)
        for query in ('{ studnt(netid: "x") { netid } }', "{ students(fist: 1) { totalCount } }"):
            response = await client.post("/graphql", json={"query": query}, headers=headers)
            body = response.json()
            assert "Did you mean" not in str(body), body
        variables = {"f": {"netd": {"eq": "x"}}}
        query = "query($f: StudentFilter) { students(filter: $f) { totalCount } }"
        body = (
            await client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "Did you mean" not in str(body), body

    async def test_no_introspection(self, production):
        settings, client = production
        query = "{ __schema { types { name } } }"
        headers = _production_token(settings)
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection" in body["errors"][0]["message"].lower()

    def test_introspection_is_a_setting(self):
        assert Limits(introspection=True) != Limits(introspection=False)
