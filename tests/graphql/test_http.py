"""GraphQL over HTTP: request shapes, limits, and error codes."""

from __future__ import annotations

import pytest

from tests.graphql_client import gql


class TestRequests:
    async def test_get_runs_queries(self, client, auth):
        response = await client.get(
            "/graphql", params={"query": "{ dplanSources { id } }"}, headers=auth()
        )
        assert response.status_code == 200
        assert {"id": "PHL"} in response.json()["data"]["dplanSources"]

    async def test_variables_as_a_json_string_on_get(self, client, auth):
        response = await client.get(
            "/graphql",
            params={
                "query": "query($y: Int!) { sisTerms(filter: {year: {eq: $y}}) { id } }",
                "variables": '{"y": 2001}',
            },
            headers=auth(),
        )
        assert len(response.json()["data"]["sisTerms"]) == 4

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"{not json", "not valid JSON"),
            (b"[1, 2]", "JSON object"),
            (b'{"variables": {}}', "no `query`"),
            (b'{"query": "{ dplanCodes { id } }", "variables": [1]}', "`variables`"),
            (b'{"query": "{ dplanCodes { id } }", "extensions": "{}"}', "`extensions`"),
            (b'{"query": "{ dplanCodes { id } }", "extensions": 1}', "`extensions`"),
            (b'{"query": "{ dplanCodes { id } }", "extensions": true}', "`extensions`"),
            (b'{"query": "{ dplanCodes { id } }", "extensions": []}', "`extensions`"),
        ],
    )
    async def test_malformed_requests_are_400(self, client, auth, body, message):
        headers = {**auth(), "Content-Type": "application/json"}
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert message in error["message"]

    @pytest.mark.parametrize("extensions", [None, {"some": "value"}])
    async def test_extensions_may_be_a_map_or_null(self, client, auth, extensions):
        body = {"query": "{ dplanCodes { id } }", "extensions": extensions}
        response = await client.post("/graphql", json=body, headers=auth())
        assert response.status_code == 200 and "errors" not in response.json()

    async def test_extensions_on_get_are_json_text(self, client, auth):
        query = {"query": "{ dplanCodes { id } }"}
        good = await client.get("/graphql", params={**query, "extensions": "{}"}, headers=auth())
        assert good.status_code == 200 and "errors" not in good.json()
        bad = await client.get("/graphql", params={**query, "extensions": "[1]"}, headers=auth())
        assert bad.status_code == 400
        assert "`extensions` must be a JSON object" in bad.json()["errors"][0]["message"]

    @pytest.mark.parametrize(
        ("content_type", "said"),
        [(None, "no Content-Type"), ("text/plain", "'text/plain'")],
    )
    async def test_a_body_that_is_not_said_to_be_json_is_415(
        self, client, auth, content_type, said
    ):
        headers = auth() | ({"Content-Type": content_type} if content_type else {})
        body = b'{"query": "{ dplanCodes { id } }"}'
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 415
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert said in error["message"] and "application/json" in error["message"]

    async def test_json_with_a_charset_is_read(self, client, auth):
        headers = auth() | {"Content-Type": "application/json; charset=utf-8"}
        body = b'{"query": "{ dplanCodes { id } }"}'
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["data"]["dplanCodes"]

    async def test_syntax_error(self, client, auth):
        body = await gql(client, "{ student(netid: ", auth())
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"

    async def test_unknown_field(self, client, auth):
        body = await gql(client, "{ nope }", auth())
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


class TestLimits:
    async def test_depth(self, client, auth):
        deep = "plans { " * 14 + "planId" + " }" * 14
        query = f'{{ plan(id: "1") {{ parent {{ {deep.replace("plans", "children")} }} }} }}'
        body = await gql(client, query, auth())
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]

    async def test_aliases(self, client, auth):
        query = "{ " + " ".join(f"a{i}: dplanCodes {{ id }}" for i in range(40)) + " }"
        body = await gql(client, query, auth())
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "aliases" in body["errors"][0]["message"]

    async def test_tokens(self, client, auth):
        query = "{ " + " ".join("dplanCodes { id }" for _ in range(2000)) + " }"
        body = await gql(client, query, auth())
        assert "more than 5000 tokens" in body["errors"][0]["message"]


class TestMasking:
    async def test_unexpected_errors_are_masked(self, client, auth, monkeypatch):
        async def boom(*_args, **_kwargs):
            raise RuntimeError("secret internals")

        # Both engines fail: the planner's failure falls back to the resolvers, whose error is
        # masked (a planned read never answers with an error of its own).
        monkeypatch.setattr("app.services.reference.dplan_codes", boom)
        monkeypatch.setattr("app.repositories.json_reads.JsonReads.data", boom)
        body = await gql(client, "{ dplanCodes { id } }", auth())
        assert body["errors"][0]["message"] == "Unexpected error."
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert "secret" not in str(body)


class TestGraphqlResponseMediaType:
    """GraphQL over HTTP: `application/graphql-response+json` on request."""

    async def _post(self, client, auth, query, accept):
        return await client.post(
            "/graphql", json={"query": query}, headers={**auth(), "Accept": accept}
        )

    async def test_request_errors_are_400_without_data(self, client, auth):
        accept = "application/graphql-response+json, application/json;q=0.9"
        response = await self._post(client, auth, "{ nope }", accept)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/graphql-response+json"
        assert "data" not in response.json()

    async def test_field_errors_are_200_with_data(self, client, auth):
        accept = "application/graphql-response+json"
        response = await self._post(client, auth, '{ student(netid: "x") { netid } }', accept)
        assert response.status_code == 200
        assert response.json()["data"] == {"student": None}

    async def test_plain_json_keeps_200_for_request_errors(self, client, auth):
        response = await self._post(client, auth, "{ nope }", "application/json")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert "data" not in response.json()


class TestNodeIds:
    async def test_a_malformed_id_is_bad_user_input(self, client, auth):
        for bad in ("garbage!!", "U3R1ZGVudA=="):  # not base64; base64 of "Student" alone
            body = await gql(
                client, "query($id: ID!) { node(id: $id) { id } }", auth(), {"id": bad}
            )
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
            assert body["errors"][0]["extensions"]["problems"][0]["loc"] == "id"

    async def test_an_id_of_an_unknown_type_is_null(self, client, auth):
        body = await gql(
            client, "query($id: ID!) { node(id: $id) { id } }", auth(), {"id": "Tm9wZTox"}
        )  # "Nope:1"
        assert body["data"] == {"node": None} and "errors" not in body
