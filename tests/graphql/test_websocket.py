"""Queries and mutations over graphql-transport-ws answer as they do over HTTP: the same unit of
work, access rules (FERPA included), error codes and masking; connection_init takes the token in
every shape clients send it, and every close carries its reason."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from starlette.testclient import TestClient

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from app.auth.tokens import mint
from app.db import create_engine, create_sessionmaker, reading, transaction
from app.errors import Unauthenticated
from app.graphql import operations
from app.main import create_app
from app.models import Task
from app.services import tasks as tasks_service
from tests.factories import make_student

NETID = "f0027k4"
HIDDEN = "f000hid"
READER = (STUDENTS_READ,)
WRITER = (STUDENTS_WRITE, STUDENTS_READ)
STUDENT = "query($n: String!) { student(netid: $n) { netid name classYear } }"
SET_DPLANS = """mutation($netid: String!, $dplans: [DplanInput!]!) {
  setDplans(netid: $netid, dplans: $dplans) { taskId status resourceId } }"""
DPLANS = [{"termCode": "202301", "dplanId": "R", "dplanSourceId": "PHL"}]
PROTOCOL = ["graphql-transport-ws"]


async def _make_students(settings) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await make_student(session, netid=NETID, last_name="Núñez")  # not ASCII: sent as UTF-8
            await make_student(session, netid=HIDDEN, ferpa_protected=True)
    finally:
        await engine.dispose()


async def _task_count(settings) -> int:
    engine = create_engine(settings)
    try:
        async with reading(create_sessionmaker(engine)) as session:
            return (await session.execute(select(func.count()).select_from(Task))).scalar_one()
    finally:
        await engine.dispose()


@pytest.fixture
def client(settings, clock) -> Iterator[TestClient]:
    settings = settings.model_copy(update={"worker_in_process": False})
    asyncio.run(_make_students(settings))
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


def token(settings, *scopes: str, sub: str = "f003ghc") -> str:
    return mint(settings, sub=sub, scopes=list(scopes))


def ask(ws: Any, query: str, variables: dict[str, Any] | None = None, op: str = "1") -> Any:
    """Send one operation; its messages up to and including the one that ends it."""
    ws.send_json(
        {"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    messages = []
    while True:
        message = ws.receive_json()
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


@contextmanager
def acked(client: TestClient, bearer: str) -> Iterator[Any]:
    """A connection past `connection_ack`, authenticated with `bearer`."""
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        yield ws


def http(client: TestClient, bearer: str, query: str, variables: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


class TestConnectionParams:
    @pytest.mark.parametrize(
        "shape",
        [
            lambda t: {"Authorization": f"Bearer {t}"},
            lambda t: {"authorization": f"Bearer {t}"},
            lambda t: {"headers": {"Authorization": f"Bearer {t}"}},
            lambda t: {"headers": {"authorization": f"Bearer {t}"}},
        ],
        ids=["Authorization", "authorization", "headers.Authorization", "headers.authorization"],
    )
    def test_each_shape_is_accepted(self, client, settings, shape):
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_json({"type": "connection_init", "payload": shape(token(settings, *READER))})
            assert ws.receive_json() == {"type": "connection_ack"}
            answer = ask(ws, STUDENT, {"n": NETID})
        assert answer[0]["payload"]["data"]["student"]["netid"] == NETID

    @pytest.mark.parametrize(
        "payload",
        [{}, {"Authorization": "Bearer nope"}, {"headers": {"Authorization": 3}}, {"x": "y"}],
    )
    def test_a_refused_token_closes_4403_with_its_reason(self, client, payload):
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_json({"type": "connection_init", "payload": payload})
            message = ws.receive()
        assert message["type"] == "websocket.close"
        assert (message["code"], message["reason"]) == (4403, Unauthenticated.MESSAGE)

    def test_an_operation_before_connection_init_closes_4401(self, client):
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            ws.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": "{ dplanCodes { id } }"}}
            )
            message = ws.receive()
        assert (message["code"], message["reason"]) == (4401, "Unauthorized")

    @pytest.mark.parametrize(
        ("subprotocols", "reason"),
        [
            (["graphql-ws"], "the legacy graphql-ws subprotocol"),
            ([], "ask for the graphql-transport-ws subprotocol"),
        ],
    )
    def test_other_subprotocols_close_4406_saying_why(self, client, subprotocols, reason):
        with client.websocket_connect("/graphql", subprotocols=subprotocols) as ws:
            message = ws.receive()
        assert message["code"] == 4406 and message["reason"].startswith(reason)


class TestOperations:
    def test_a_query_answers_the_bytes_http_answers(self, client, settings):
        bearer = token(settings, *READER)
        subscribe = {"query": STUDENT, "variables": {"n": NETID}}
        with acked(client, bearer) as ws:
            ws.send_json({"id": "1", "type": "subscribe", "payload": subscribe})
            raw = ws.receive_text()  # a text frame, the HTTP body spliced in as it is
            assert ws.receive_json() == {"id": "1", "type": "complete"}
        body = http(client, bearer, STUDENT, {"n": NETID}).text
        assert raw == '{"id":"1","type":"next","payload":' + body + "}"
        assert orjson.loads(raw)["payload"]["data"]["student"]["netid"] == NETID

    def test_a_mutation_with_variables_commits_its_task(self, client, settings):
        bearer = token(settings, *WRITER)
        with acked(client, bearer) as ws:
            answer = ask(ws, SET_DPLANS, {"netid": NETID, "dplans": DPLANS})
        task = answer[0]["payload"]["data"]["setDplans"]
        assert task["status"] == "ACCEPTED" and task["resourceId"] == NETID
        assert client.portal.call(_task_count, client.app.state.studentgraph.settings) == 1
        read = http(
            client,
            bearer,
            "query($id: String!) { task(id: $id) { taskId } }",
            {"id": task["taskId"]},
        )
        assert read.json()["data"]["task"]["taskId"] == task["taskId"]

    def test_a_refused_mutation_writes_nothing_and_names_each_problem(self, client, settings):
        bearer = token(settings, *WRITER)
        bad = [{"termCode": "299901", "dplanId": "ZZ", "dplanSourceId": "PHL"}]
        with acked(client, bearer) as ws:
            answer = ask(ws, SET_DPLANS, {"netid": NETID, "dplans": bad})
        error = answer[0]["payload"]["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert {p["loc"] for p in error["extensions"]["problems"]} >= {"dplans[0].dplanId"}
        assert client.portal.call(_task_count, client.app.state.studentgraph.settings) == 0

    def test_a_missing_scope_is_forbidden_as_over_http(self, client, settings):
        bearer = token(settings, PEOPLE_PRIVATE)
        with acked(client, bearer) as ws:
            answer = ask(ws, STUDENT, {"n": NETID})
        assert answer[0]["payload"] == http(client, bearer, STUDENT, {"n": NETID}).json()
        assert answer[0]["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("{ student(netid: ", "GRAPHQL_PARSE_FAILED"),
            ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
            (
                "query A { dplanCodes { id } } query B { dplanCodes { id } }",
                "OPERATION_RESOLUTION_FAILURE",
            ),
        ],
    )
    def test_a_request_error_is_an_error_message_and_the_socket_stays(
        self, client, settings, query, code
    ):
        with acked(client, token(settings)) as ws:
            answer = ask(ws, query)
            again = ask(ws, "{ dplanCodes { id } }", op="2")
        assert answer == [{"id": "1", "type": "error", "payload": answer[0]["payload"]}]
        assert answer[0]["payload"][0]["extensions"]["code"] == code
        assert again[-1] == {"id": "2", "type": "complete"}

    @pytest.mark.parametrize("query", ["{ nope }", "{ dplanCodes { id } }"])
    def test_each_operation_is_checked_once(self, client, settings, monkeypatch, query):
        checks = []
        check = operations.check
        monkeypatch.setattr(operations, "check", lambda *a: checks.append(a) or check(*a))
        with acked(client, token(settings)) as ws:
            ask(ws, query)
        assert len(checks) == 1

    def test_an_unexpected_error_is_masked_and_logged_once(
        self, client, settings, monkeypatch, caplog
    ):
        async def broken(*_args: Any) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(tasks_service, "find_task", broken)
        with acked(client, token(settings)) as ws, caplog.at_level(logging.ERROR):
            answer = ask(ws, '{ task(id: "0123") { taskId } }')
        error = answer[0]["payload"]["errors"][0]
        assert error["message"] == "Unexpected error."
        assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
        assert "secret" not in str(answer)
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(logged) == 1 and len(logged[0].request_id) == 32


class TestFerpa:
    def test_a_protected_student_answers_exactly_as_a_missing_one(self, client, settings):
        bearer = token(settings, *READER)
        with acked(client, bearer) as ws:
            hidden = ask(ws, STUDENT, {"n": HIDDEN})
            missing = ask(ws, STUDENT, {"n": "f999zzz"}, op="2")
            listed = ask(ws, "{ students { totalCount edges { node { netid } } } }", op="3")
        assert hidden[0]["payload"] == missing[0]["payload"]
        assert hidden[0]["payload"]["data"] == {"student": None}
        assert hidden[0]["payload"] == http(client, bearer, STUDENT, {"n": HIDDEN}).json()
        assert HIDDEN not in str(listed)
        assert listed[0]["payload"]["data"]["students"]["totalCount"] == 1

    def test_people_private_sees_the_protected_student(self, client, settings):
        bearer = token(settings, STUDENTS_READ, PEOPLE_PRIVATE)
        with acked(client, bearer) as ws:
            answer = ask(ws, STUDENT, {"n": HIDDEN})
        assert answer[0]["payload"]["data"]["student"]["netid"] == HIDDEN


class TestPersistedOverWebSocket:
    def test_by_hash_after_the_text_and_the_safelist(self, client, settings):
        query = "{ dplanCodes { id } }"
        digest = hashlib.sha256(query.encode()).hexdigest()
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        with acked(client, token(settings)) as ws:
            unknown = ask_raw(ws, {"extensions": extensions})
            ask_raw(ws, {"query": query, "extensions": extensions}, op="2")
            known = ask_raw(ws, {"extensions": extensions}, op="3")
        assert unknown[0]["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert known[0]["payload"]["data"]["dplanCodes"]

    def test_a_subscription_is_counted_and_its_document_stored(self, client, settings):
        name = f"Follow{uuid.uuid4().hex[:8]}"
        query = f'subscription {name} {{ taskUpdated(taskId: "none") {{ status }} }}'
        digest = hashlib.sha256(query.encode()).hexdigest()
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        with acked(client, token(settings)) as ws:
            first = ask_raw(ws, {"query": query, "extensions": extensions})
            by_hash = ask_raw(ws, {"extensions": extensions}, op="2")
        for answer in (first, by_hash):  # no such task: NOT_FOUND, as for anyone else's
            errors = answer[0]["payload"]
            errors = errors if answer[0]["type"] == "error" else errors["errors"]
            assert errors[0]["extensions"]["code"] == "NOT_FOUND"
        labels = {"operation": name, "type": "subscription"}
        assert REGISTRY.get_sample_value("studentgraph_graphql_operations_total", labels) == 2


def ask_raw(ws: Any, payload: dict[str, Any], op: str = "1") -> Any:
    ws.send_json({"id": op, "type": "subscribe", "payload": payload})
    messages = [ws.receive_json()]
    while messages[-1]["type"] not in ("complete", "error"):
        messages.append(ws.receive_json())
    return messages


class TestMalformedMessages:
    """Each closes the connection 4400 (it once broke the socket: 1006, a traceback logged)."""

    @pytest.mark.parametrize(
        "text",
        [
            "[]",
            "null",
            "3",
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", '
            '"variables": {"n": "\\ud800"}}}',
            '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", '
            '"variables": ' + '{"a": ' * 2000 + "1" + "}" * 2000 + "}}",
            '{"id": [], "type": "subscribe", "payload": {"query": "{ __typename }"}}',
            '{"id": {}, "type": "complete"}',
        ],
        ids=[
            "a list",
            "null",
            "a number",
            "a lone surrogate",
            "2,000 levels deep",
            "a list for an id",
            "an object for an id",
        ],
    )
    def test_closes_4400(self, client, settings, text):
        with acked(client, token(settings)) as ws:
            ws.send_text(text)
            message = ws.receive()
        assert message["type"] == "websocket.close" and message["code"] == 4400


def test_the_safelist_holds_over_websocket(settings, clock):
    only = settings.model_copy(update={"graphql_persisted_only": True})
    with TestClient(create_app(only, clock=clock)) as client, acked(client, token(settings)) as ws:
        answer = ask_raw(ws, {"query": "{ dplanCodes { id } }"})
    assert answer[0]["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


async def _disclosed(settings) -> list[tuple[str, str, str, str]]:
    from tests.factories import student_records

    engine = create_engine(settings)
    try:
        async with reading(create_sessionmaker(engine)) as session:
            shown = await student_records(session)
            return [(s.netid, s.sub, s.operation, s.record_types) for s in shown]
    finally:
        await engine.dispose()


class TestDisclosures:
    """A query over the WebSocket is recorded as over HTTP (the same operations.run); a hidden
    student is not (nothing of it was shown)."""

    def test_a_query_is_recorded_and_a_hidden_student_is_not(self, client, settings):
        with acked(client, token(settings, *READER, sub="ws-caller")) as ws:
            ask(ws, "query Mine($n: String!) { student(netid: $n) { name } }", {"n": NETID})
            ask(ws, STUDENT, {"n": HIDDEN}, op="2")
        assert asyncio.run(_disclosed(settings)) == [(NETID, "ws-caller", "query Mine", "student")]
