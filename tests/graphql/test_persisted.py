"""Automatic persisted queries (Apollo's protocol), shared through the database; persisted reads
over GET with Cache-Control, ETag and 304; the safelist (GRAPHQL_PERSISTED_ONLY)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.auth import STUDENTS_READ, STUDENTS_WRITE
from app.graphql import persisted as persisted_door
from app.main import create_app
from app.models import PersistedQuery
from tests.conftest import counting_statements
from tests.factories import make_student

QUERY = "query($n: String!) { student(netid: $n) { netid classYear } }"
NETID = "f0027k4"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


@pytest.fixture
async def student(session):
    await make_student(session, netid=NETID)
    await session.commit()


async def stored(session) -> int:
    count = await session.scalar(select(func.count()).select_from(PersistedQuery))
    await session.rollback()
    return int(count or 0)


async def get(client, headers, text, variables, **extra: str) -> httpx.Response:
    params = {"extensions": json.dumps(apq(text)), "variables": json.dumps(variables)}
    return await client.get("/graphql", params=params, headers={**headers, **extra})


class TestAutomaticPersistedQueries:
    async def test_unknown_hash_asks_for_the_text_then_runs_by_hash(
        self, client, auth, session, student
    ):
        body = {"extensions": apq(QUERY), "variables": {"n": NETID}}
        first = await client.post("/graphql", json=body, headers=auth())
        assert first.status_code == 200  # Apollo's link retries only on a 200
        assert first.json() == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        }
        with_text = await client.post("/graphql", json={**body, "query": QUERY}, headers=auth())
        assert with_text.json()["data"]["student"]["netid"] == NETID
        by_hash = await client.post("/graphql", json=body, headers=auth())
        assert by_hash.content == with_text.content
        assert await stored(session) == 1

    async def test_the_store_is_shared_by_every_process(
        self, client, loaders_client, auth, student
    ):
        body = {"extensions": apq(QUERY), "variables": {"n": NETID}}
        await client.post("/graphql", json={**body, "query": QUERY}, headers=auth())
        # another app on the same database (another process, as far as the store knows)
        other = await loaders_client.post("/graphql", json=body, headers=auth())
        assert other.json()["data"]["student"]["netid"] == NETID

    async def test_the_store_is_bounded_past_it_documents_run_unstored(
        self, settings, clock, auth, session, student
    ):
        bounded = settings.model_copy(update={"graphql_persisted_max": 1})
        app = create_app(bounded, clock=clock)
        other = "query($n: String!) { student(netid: $n) { netid } }"
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            for text in (QUERY, other):
                body = {"query": text, "extensions": apq(text), "variables": {"n": NETID}}
                answer = await c.post("/graphql", json=body, headers=auth())
                assert answer.json()["data"]["student"]["netid"] == NETID  # it runs either way
            by_hash = {"extensions": apq(other), "variables": {"n": NETID}}
            again = await c.post("/graphql", json=by_hash, headers=auth())
        assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert await stored(session) == 1

    async def test_a_full_store_is_not_counted_again_for_each_new_document(
        self, settings, clock, auth, session, student, monkeypatch
    ):
        bounded = settings.model_copy(update={"graphql_persisted_max": 1})
        app = create_app(bounded, clock=clock)
        texts = [f"query($n: String!) {{ a{i}: student(netid: $n) {{ netid }} }}" for i in range(4)]

        async def offer(c: httpx.AsyncClient, text: str) -> list[str]:
            body = {"query": text, "extensions": apq(text), "variables": {"n": NETID}}
            with counting_statements(app) as counter:
                answer = await c.post("/graphql", json=body, headers=auth())
            assert answer.json()["data"] is not None  # it runs either way
            return [s for s in counter.statements if "persisted_queries" in s]

        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            await offer(c, texts[0])  # stored: the store is now full
            found_full = await offer(c, texts[1])
            assert any("count(" in s.lower() for s in found_full)
            known_full = await offer(c, texts[2])
            assert not any("count(" in s.lower() or "INSERT" in s for s in known_full)
            assert len(known_full) == 1  # only the lookup by hash
            monkeypatch.setattr(persisted_door, "FULL_RECHECK_SECONDS", 0.0)
            rechecked = await offer(c, texts[3])
            assert any("count(" in s.lower() for s in rechecked)
        assert await stored(session) == 1

    async def test_a_hash_that_is_not_the_texts_is_refused_and_not_stored(
        self, client, auth, session
    ):
        wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
        answer = await client.post(
            "/graphql", json={"query": QUERY, "extensions": wrong}, headers=auth()
        )
        assert answer.status_code == 400
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert "does not match" in error["message"] and sha(QUERY) in error["message"]
        assert await stored(session) == 0

    @pytest.mark.parametrize(
        "extensions",
        [
            [],
            "x",
            {"persistedQuery": {"version": 2, "sha256Hash": "ab"}},
            {"persistedQuery": {"version": 1}},
        ],
    )
    async def test_a_malformed_persisted_query_is_a_bad_request(self, client, auth, extensions):
        answer = await client.post("/graphql", json={"extensions": extensions}, headers=auth())
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"

    async def test_an_invalid_document_is_reported_and_not_stored(self, client, auth, session):
        text = "{ nope }"
        answer = await client.post(
            "/graphql", json={"query": text, "extensions": apq(text)}, headers=auth()
        )
        assert answer.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert await stored(session) == 0

    async def test_the_limits_hold_for_persisted_documents(self, client, auth, session):
        deep = "{ plans { edges { node { " + "parent { " * 12 + "id" + " }" * 12 + " } } } }"
        costly = "{ a: students(first: 100) { edges { node { plans { children { children { id "
        costly += "} } } } } } }"
        for text, code in ((deep, "GRAPHQL_VALIDATION_FAILED"), (costly, "MAX_COST_EXCEEDED")):
            answer = await client.post(
                "/graphql", json={"query": text, "extensions": apq(text)}, headers=auth()
            )
            assert answer.json()["errors"][0]["extensions"]["code"] == code, answer.text
        assert await stored(session) == 0


class TestPersistedReadsOverGet:
    async def test_cache_control_etag_and_304(self, client, auth, student):
        headers = auth(STUDENTS_READ)
        await client.post(
            "/graphql", json={"query": QUERY, "extensions": apq(QUERY)}, headers=headers
        )
        answer = await get(client, headers, QUERY, {"n": NETID})
        assert answer.status_code == 200 and answer.json()["data"]["student"]["netid"] == NETID
        assert answer.headers["cache-control"] == "private, max-age=0"
        assert "Authorization" in answer.headers["vary"]
        etag = answer.headers["etag"]
        assert etag == '"' + hashlib.sha256(answer.content).hexdigest()[:32] + '"'
        again = await get(client, headers, QUERY, {"n": NETID}, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        other = await get(client, headers, QUERY, {"n": "f999zzz"}, **{"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag

    async def test_an_error_is_not_cacheable(self, client, auth):
        answer = await get(client, auth(), QUERY, {"n": NETID})
        assert answer.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert "etag" not in answer.headers and "cache-control" not in answer.headers

    async def test_max_age_is_a_setting(self, settings, clock, auth, student):
        app = create_app(
            settings.model_copy(update={"graphql_get_max_age_seconds": 60}), clock=clock
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as client,
        ):
            await client.post(
                "/graphql", json={"query": QUERY, "extensions": apq(QUERY)}, headers=auth()
            )
            answer = await get(client, auth(), QUERY, {"n": NETID})
        assert answer.headers["cache-control"] == "private, max-age=60"

    async def test_a_persisted_mutation_over_get_is_refused(self, client, auth, student):
        text = (
            'mutation { setDplans(netid: "f0027k4", dplans: [{termCode: "202301", dplanId: "R", '
            'dplanSourceId: "PHL"}]) { taskId } }'
        )
        headers = auth(STUDENTS_READ, STUDENTS_WRITE)
        # registered by POST without running twice: the hash and text of a mutation, POSTed
        await client.post(
            "/graphql", json={"query": text, "extensions": apq(text)}, headers=headers
        )
        answer = await get(client, headers, text, {})
        assert answer.status_code == 405 and answer.headers["allow"] == "POST"
        assert answer.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.fixture
async def safelisted(settings, clock, session, student) -> Any:
    """An app with GRAPHQL_PERSISTED_ONLY, whose store holds QUERY (as `persisted add` would)."""
    session.add(PersistedQuery(id=sha(QUERY), query=QUERY, created_at=clock.now(), safelisted=True))
    await session.commit()
    app = create_app(settings.model_copy(update={"graphql_persisted_only": True}), clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


class TestSafelist:
    async def test_registered_documents_run_by_hash_or_by_text(self, safelisted, auth):
        for body in ({"extensions": apq(QUERY)}, {"query": QUERY}):
            answer = await safelisted.post(
                "/graphql", json={**body, "variables": {"n": NETID}}, headers=auth()
            )
            assert answer.json()["data"]["student"]["netid"] == NETID

    async def test_anything_else_is_refused_and_never_stored(self, safelisted, auth, session):
        text = "{ dplanCodes { id } }"
        for body in ({"query": text}, {"query": text, "extensions": apq(text)}):
            answer = await safelisted.post("/graphql", json=body, headers=auth())
            assert answer.status_code == 400
            assert answer.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        unknown = await safelisted.post("/graphql", json={"extensions": apq(text)}, headers=auth())
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert await stored(session) == 1
