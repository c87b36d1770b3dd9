"""`subscription recordsChanged(after:, filter:)` over graphql-transport-ws: the entries after a
position, then each as it commits; resumed from a position, nothing missed, nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from app.auth.tokens import mint
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.models import Disclosure
from tests.changes.helpers import PRIVATE_READER, READER, load
from tests.domain.test_load_format import STUDENT, changed, document

PROTOCOL = ["graphql-transport-ws"]
SUBSCRIBE = """subscription($after: String, $filter: ChangeFilter) {
  recordsChanged(after: $after, filter: $filter) { position kind key netid op source record }
}"""


def run(settings, work) -> Any:
    async def go() -> Any:
        engine = create_engine(settings)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def write(settings, raw) -> None:
    run(settings, lambda sessions: load(sessions, raw))


@pytest.fixture
def fast(settings):
    # The poll is the fallback when a notification is not heard (the test writes from another
    # event loop, which SQLite's in-process hub does not reach); PostgreSQL's NOTIFY is.
    return settings.model_copy(update={"worker_in_process": False, "worker_poll_seconds": 0.2})


@pytest.fixture
def client(fast, clock) -> Iterator[TestClient]:
    with TestClient(create_app(fast, clock=clock)) as client:
        yield client


def subscribe(ws: Any, settings, scopes, variables: dict[str, Any], sub: str = "f003ghc") -> None:
    bearer = mint(settings, sub=sub, scopes=list(scopes))
    ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}})
    assert ws.receive_json() == {"type": "connection_ack"}
    payload = {"query": SUBSCRIBE, "variables": variables}
    ws.send_json({"id": "1", "type": "subscribe", "payload": payload})


def received(ws: Any, count: int) -> list[dict[str, Any]]:
    entries = []
    for _ in range(count):
        message = ws.receive_json()
        assert message["type"] == "next", message
        assert message["payload"].get("errors") is None, message
        entries.append(message["payload"]["data"]["recordsChanged"])
    return entries


class TestRecordsChanged:
    def test_sends_what_is_there_then_each_commit_and_resumes(self, fast, client):
        write(fast, document())
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            subscribe(ws, fast, READER, {})
            first = received(ws, 4)
            assert [e["kind"] for e in first] == ["STUDENT", "TERM", "PLAN", "DPLAN"]
            write(fast, {"students": [changed(STUDENT, last_name="Pushed")]})
            (pushed,) = received(ws, 1)
            assert pushed["record"]["last_name"] == "Pushed" and pushed["op"] == "UPDATE"
            ws.send_json({"id": "1", "type": "complete"})
        write(fast, {"students": [changed(STUDENT, last_name="While away")]})
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            subscribe(ws, fast, READER, {"after": pushed["position"]})
            (missed,) = received(ws, 1)
            assert missed["record"]["last_name"] == "While away"
            write(fast, {"students": [changed(STUDENT, last_name="Live")]})
            (live,) = received(ws, 1)
            assert live["record"]["last_name"] == "Live"
            positions = [int(e["position"]) for e in (*first, pushed, missed, live)]
            assert positions == sorted(set(positions))

    def test_a_protected_students_entries_are_not_sent_without_people_private(self, fast, client):
        hidden = changed(STUDENT, netid="f000hid", ferpa_protected=True)
        write(fast, {"students": [hidden]})
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            subscribe(ws, fast, READER, {"filter": {"kind": "STUDENT"}}, sub="housing")
            write(fast, {"students": [changed(hidden, last_name="Secret")]})
            write(fast, {"students": [STUDENT]})
            (entry,) = received(ws, 1)
            assert entry["netid"] == "f000abc"
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            subscribe(ws, fast, PRIVATE_READER, {"filter": {"kind": "STUDENT"}})
            assert [e["netid"] for e in received(ws, 3)] == ["f000hid", "f000hid", "f000abc"]

        async def records(sessions) -> list[tuple[list[str], str]]:
            async with sessions() as session:
                rows = await session.execute(
                    select(Disclosure.netids, Disclosure.operation).where(
                        Disclosure.sub == "housing"
                    )
                )
                return [(list(n), o) for n, o in rows]

        assert run(fast, records) == [(["f000abc"], "subscription recordsChanged")]

    def test_without_the_scope_an_error(self, fast, client):
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            subscribe(ws, fast, ("urn:dartmouth:students:write.sensitive",), {})
            message = ws.receive_json()
            assert message["type"] == "next"
            assert message["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
