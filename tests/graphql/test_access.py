"""DESIGN section 3 through /graphql: 401 without a valid token, FORBIDDEN without the scope,
and a FERPA-protected student indistinguishable from an unknown netid."""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from app.auth.scopes import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from tests.factories import make_dplan, make_plan, make_student, make_term
from tests.graphql_client import gql, gql_data

NESTED = """query($netid: String!) { student(netid: $netid) {
  netid terms { id } plans { planId } dplans { termCode } } }"""


async def _protected_world(session):
    await make_student(session, netid="open1")
    await make_student(session, netid="hidden1", ferpa_protected=True)
    await make_term(session, "hidden1", "201801")
    await make_plan(session, "hidden1", id=777)
    await make_plan(session, "open1", id=778)
    await make_dplan(session, "hidden1", "201901")
    await session.commit()


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": "Basic Zm9vOmJhcg=="},
        ],
    )
    async def test_no_valid_token_is_401(self, client, headers):
        response = await client.post(
            "/graphql", json={"query": "{ dplanCodes { id } }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    async def test_expired_and_alg_none_are_401(self, client, settings):
        now = int(time.time())
        expired = jwt.encode(
            {"sub": "x", "exp": now - 3600, "iat": now - 7200}, settings.jwt_secret, "HS256"
        )
        unsigned = jwt.encode({"sub": "x", "exp": now + 60}, None, algorithm="none")
        for token in (expired, unsigned):
            response = await client.post(
                "/graphql",
                json={"query": "{ dplanCodes { id } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 401, token

    async def test_get_queries_need_a_token_too(self, client):
        response = await client.get("/graphql", params={"query": "{ dplanCodes { id } }"})
        assert response.status_code == 401


class TestScopes:
    @pytest.mark.parametrize(
        "query",
        [
            '{ student(netid: "open1") { netid } }',
            "{ students { totalCount } }",
            '{ plan(id: "778") { planId } }',
            "{ plans { totalCount } }",
        ],
    )
    async def test_student_data_needs_read_sensitive(self, client, session, auth, query):
        await _protected_world(session)
        body = await gql(client, query, auth(STUDENTS_WRITE, PEOPLE_PRIVATE))
        assert body["data"] is None or not any(body["data"].values())
        error = body["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert STUDENTS_READ in error["message"]

    async def test_node_needs_read_sensitive(self, client, session, auth):
        await _protected_world(session)
        node_id = base64.b64encode(b"Student:open1").decode()
        body = await gql(
            client,
            "query($id: ID!) { node(id: $id) { id } }",
            auth(STUDENTS_WRITE),
            {"id": node_id},
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    async def test_reference_data_needs_only_a_valid_token(self, client, auth):
        data = await gql_data(client, "{ dplanCodes { id } sisTerms { id } }", auth("none"))
        assert data["dplanCodes"] and data["sisTerms"]


class TestFerpa:
    async def test_hidden_student_is_exactly_an_unknown_one(self, client, session, auth):
        await _protected_world(session)
        reader = auth(STUDENTS_READ)
        hidden = await client.post(
            "/graphql", json={"query": NESTED, "variables": {"netid": "hidden1"}}, headers=reader
        )
        unknown = await client.post(
            "/graphql", json={"query": NESTED, "variables": {"netid": "nobody"}}, headers=reader
        )
        assert hidden.status_code == unknown.status_code == 200
        assert hidden.content == unknown.content
        assert hidden.json()["data"] == {"student": None}

    async def test_private_scope_reveals_the_student(self, client, session, auth):
        await _protected_world(session)
        data = await gql_data(
            client, NESTED, auth(STUDENTS_READ, PEOPLE_PRIVATE), {"netid": "hidden1"}
        )
        assert data["student"]["netid"] == "hidden1"
        assert data["student"]["plans"] == [{"planId": "777"}]
        assert data["student"]["dplans"] == [{"termCode": "201901"}]

    async def test_counts_and_lists_leave_them_out(self, client, session, auth):
        await _protected_world(session)
        query = """{ students { totalCount edges { node { netid } } }
                     plans { totalCount edges { node { planId } } } }"""
        without = await gql_data(client, query, auth(STUDENTS_READ))
        with_private = await gql_data(client, query, auth(STUDENTS_READ, PEOPLE_PRIVATE))
        assert without["students"]["totalCount"] == 1
        assert [e["node"]["netid"] for e in without["students"]["edges"]] == ["open1"]
        assert without["plans"]["totalCount"] == 1
        assert with_private["students"]["totalCount"] == 2
        assert with_private["plans"]["totalCount"] == 2

    async def test_filters_cannot_reveal_them(self, client, session, auth):
        await _protected_world(session)
        query = """{ students(filter: {netid: {eq: "hidden1"}}) { totalCount }
                     plans(filter: {studentNetid: {eq: "hidden1"}}) { totalCount } }"""
        data = await gql_data(client, query, auth(STUDENTS_READ))
        assert data == {"students": {"totalCount": 0}, "plans": {"totalCount": 0}}

    async def test_plan_and_node_of_a_hidden_student_are_null(self, client, session, auth):
        await _protected_world(session)
        reader = auth(STUDENTS_READ)
        node_id = base64.b64encode(b"Student:hidden1").decode()
        plan_node = base64.b64encode(b"AcademicPlan:777").decode()
        query = """query($a: ID!, $b: ID!) { plan(id: "777") { planId }
                   a: node(id: $a) { id } b: node(id: $b) { id } }"""
        data = await gql_data(client, query, reader, {"a": node_id, "b": plan_node})
        assert data == {"plan": None, "a": None, "b": None}
