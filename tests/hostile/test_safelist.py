"""Issue 19, finding 9: what callers persisted (automatic persisted queries) never joins the
operator's safelist. A document a caller stored while GRAPHQL_PERSISTED_ONLY was off does not
run once it is on; the same document registered by the operator does."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from sqlalchemy import select

from app.db import transaction
from app.main import create_app
from app.models import PersistedQuery
from app.services import persisted as persisted_service
from tests.factories import make_student
from tests.hostile import assert_clean

# What a caller would smuggle in: a document the operator never reviewed.
SMUGGLED = 'query Smuggled { student(netid: "h900001") { netid classYear schoolCode } }'
HASH = hashlib.sha256(SMUGGLED.encode()).hexdigest()
APQ = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


async def _safelist_only(settings: Any, clock: Any, request: dict[str, Any], headers: Any) -> Any:
    app = create_app(settings.model_copy(update={"graphql_persisted_only": True}), clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        return await client.post("/graphql", json=request, headers=headers)


async def test_a_document_a_caller_persisted_never_runs_under_the_safelist(
    client, settings, clock, sessions, session, auth
):
    await make_student(session, netid="h900001")
    await session.commit()
    # Before GRAPHQL_PERSISTED_ONLY: the caller persists its document (text and hash).
    stored = await client.post(
        "/graphql", json={"query": SMUGGLED, "extensions": APQ}, headers=auth()
    )
    assert stored.json()["data"]["student"]["netid"] == "h900001"
    assert (await session.scalar(select(PersistedQuery.safelisted))) is False

    by_hash = await _safelist_only(settings, clock, {"extensions": APQ}, auth())
    by_text = await _safelist_only(settings, clock, {"query": SMUGGLED}, auth())
    assert_clean(by_hash)
    assert "data" not in by_hash.json() or by_hash.json()["data"] is None
    assert by_hash.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert by_text.status_code == 400
    assert by_text.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"

    # The operator registers it (`studentgraph persisted add`): now it runs.
    async with transaction(sessions) as tx:
        assert await persisted_service.register(tx, [(HASH, SMUGGLED)]) == 1
    registered = await _safelist_only(settings, clock, {"extensions": APQ}, auth())
    assert registered.json()["data"]["student"]["netid"] == "h900001"
