"""setDplans, task(id) and taskUpdated through /graphql: the same service as the PATCH route."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE
from app.auth.tokens import mint
from app.db import create_engine, create_sessionmaker, transaction
from app.graphql import websocket
from app.main import create_app
from app.models import Disclosure, Task
from app.worker import Worker
from tests.factories import StudentRecord, make_dplan, make_student, student_records
from tests.graphql_client import gql, gql_data
from tests.worker.helpers import running_worker

NETID = "f0027k4"
WRITER = (STUDENTS_WRITE, STUDENTS_READ)
SET_DPLANS = """
mutation($netid: String!, $dplans: [DplanInput!]!, $key: String) {
  setDplans(netid: $netid, dplans: $dplans, idempotencyKey: $key) {
    id taskId status resource action resourceId payload path message
    requester { sub scope exp iat }
  }
}"""
TASK = "query($id: String!) { task(id: $id) { taskId status path message completedDate } }"
DPLANS = "query($n: String!) { student(netid: $n) { dplans { termCode dplanId dplanSourceId } } }"
SEED_DPLANS = [
    {
        "dplanDescription": "Resident",
        "dplanSourceId": "PHL",
        "dplanId": "R",
        "dplanSourceDescription": "Registrar Action",
        "termCode": "202301",
    },
    {"dplanSourceId": "PHL", "dplanId": "R", "termCode": "202303"},
]


@pytest.fixture
async def student(session):
    await make_student(session, netid=NETID)
    await make_dplan(session, NETID, "202209", dplan_id="L", dplan_source_id="STU")
    await session.commit()


async def set_dplans(client, headers, dplans=SEED_DPLANS, netid=NETID, key=None):
    variables = {"netid": netid, "dplans": dplans, "key": key}
    return await gql(client, SET_DPLANS, headers, variables)


async def task_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(Task))).scalar_one()


async def wait_complete(client, headers, task_id, seconds=20.0):
    for _ in range(int(seconds / 0.05)):
        task = (await gql_data(client, TASK, headers, {"id": task_id}))["task"]
        if task["status"] in ("COMPLETE", "ERROR"):
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish: {task}")


class TestSetDplans:
    async def test_accepts_and_applies(self, client, settings, student, auth):
        headers = auth(*WRITER)
        async with running_worker(settings):
            body = await set_dplans(client, headers)
            assert body.get("errors") is None, body
            task = body["data"]["setDplans"]
            assert task["status"] in ("ACCEPTED", "RUNNING", "COMPLETE")
            assert len(task["taskId"]) == 24
            assert (task["resource"], task["action"], task["resourceId"]) == (
                "students",
                "PATCH",
                NETID,
            )
            assert task["requester"]["scope"] == ",".join(WRITER)
            assert task["payload"]["dplans"][0] == {
                "dplan_description": "Resident",
                "dplan_source_id": "PHL",
                "dplan_id": "R",
                "dplan_source_description": "Registrar Action",
                "term_code": "202301",
            }
            done = await wait_complete(client, headers, task["taskId"])
        assert done["status"] == "COMPLETE"
        assert done["message"] == "success"
        assert done["path"] == f"/api/students/{NETID}"

        # Reads see the write at once; the third term is untouched.
        data = await gql_data(client, DPLANS, headers, {"n": NETID})
        assert data["student"]["dplans"] == [
            {"termCode": "202209", "dplanId": "L", "dplanSourceId": "STU"},
            {"termCode": "202301", "dplanId": "R", "dplanSourceId": "PHL"},
            {"termCode": "202303", "dplanId": "R", "dplanSourceId": "PHL"},
        ]

    async def test_bad_user_input_names_each_problem(self, client, session, student, auth):
        dplans = [
            {"termCode": "202301", "dplanId": "Q", "dplanSourceId": "PHL"},
            {"termCode": "202301", "dplanId": "R", "dplanSourceId": "NOPE"},
        ]
        body = await set_dplans(client, auth(*WRITER), dplans)
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        locs = {p["loc"] for p in error["extensions"]["problems"]}
        # In the names the caller sent (the REST route says `dplans[0].dplan_id`).
        assert locs == {"dplans[0].dplanId", "dplans[1].dplanSourceId", "dplans[1].termCode"}
        assert await task_count(session) == 0

    async def test_a_bad_idempotency_key_is_named_as_the_caller_sent_it(
        self, client, session, student, auth
    ):
        body = await set_dplans(client, auth(*WRITER), key="k" * 256)
        (problem,) = body["errors"][0]["extensions"]["problems"]
        assert problem == {"loc": "idempotencyKey", "message": "must be 1 to 255 characters"}
        assert await task_count(session) == 0

    async def test_empty_list(self, client, session, student, auth):
        body = await set_dplans(client, auth(*WRITER), [])
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert await task_count(session) == 0

    async def test_scopes(self, client, session, student, auth):
        body = await set_dplans(client, auth(STUDENTS_READ))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert await task_count(session) == 0

    async def test_hidden_student_is_not_found(self, client, session, auth):
        await make_student(session, netid="f000hid", ferpa_protected=True)
        await session.commit()
        hidden = await set_dplans(client, auth(*WRITER), netid="f000hid")
        unknown = await set_dplans(client, auth(*WRITER), netid="f000unk")
        assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert hidden["errors"][0]["message"].replace("f000hid", "X") == unknown["errors"][0][
            "message"
        ].replace("f000unk", "X")
        allowed = await set_dplans(client, auth(*WRITER, PEOPLE_PRIVATE), netid="f000hid")
        assert allowed.get("errors") is None

    async def test_idempotency_key_argument(self, client, session, student, auth):
        headers = auth(*WRITER)
        first = await set_dplans(client, headers, key="once")
        again = await set_dplans(client, headers, key="once")
        assert first["data"]["setDplans"]["taskId"] == again["data"]["setDplans"]["taskId"]
        other = await set_dplans(client, headers, SEED_DPLANS[:1], key="once")
        assert other["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert await task_count(session) == 1


class TestTaskQuery:
    async def test_visible_to_requester_and_tasks_write_only(self, client, student, auth):
        created = await set_dplans(client, auth(*WRITER))
        task_id = created["data"]["setDplans"]["taskId"]
        mine = await gql_data(client, TASK, auth(STUDENTS_READ), {"id": task_id})
        admin = await gql_data(client, TASK, auth(TASKS_WRITE, sub="f000zzz"), {"id": task_id})
        other = await gql_data(client, TASK, auth(*WRITER, sub="f000zzz"), {"id": task_id})
        bad = await gql_data(client, TASK, auth(), {"id": "nope"})
        assert mine["task"]["taskId"] == admin["task"]["taskId"] == task_id
        assert other == bad == {"task": None}

    async def test_node_round_trip(self, client, student, auth):
        created = await set_dplans(client, auth(*WRITER))
        node_id = created["data"]["setDplans"]["id"]
        query = "query($id: ID!) { node(id: $id) { ... on Task { taskId } } }"
        data = await gql_data(client, query, auth(*WRITER), {"id": node_id})
        assert data["node"]["taskId"] == created["data"]["setDplans"]["taskId"]


# --- taskUpdated over graphql-transport-ws ----------------------------------------------------

SUBSCRIBE = "subscription($id: String!) { taskUpdated(taskId: $id) { taskId status path } }"


async def _make_student(settings) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await make_student(session, netid=NETID)
    finally:
        await engine.dispose()


async def _apply_one(settings) -> bool:
    engine = create_engine(settings)
    try:
        return await Worker(settings, engine, create_sessionmaker(engine)).run_one("test/0")
    finally:
        await engine.dispose()


async def _subscription_records(settings) -> list[StudentRecord]:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            return await student_records(
                session, Disclosure.operation == "subscription taskUpdated"
            )
    finally:
        await engine.dispose()


def _connect(ws, token: str | None) -> None:
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    ws.send_json({"type": "connection_init", "payload": payload})


def _created_task(client: TestClient, token: str) -> str:
    """setDplans over HTTP; the new task's id."""
    variables = {"netid": NETID, "dplans": SEED_DPLANS}
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": SET_DPLANS, "variables": variables}
    created = client.post("/graphql", json=body, headers=headers).json()
    return str(created["data"]["setDplans"]["taskId"])


class TestTaskUpdated:
    def test_follows_a_task_from_accepted_to_complete(self, settings, clock):
        settings = settings.model_copy(
            update={"worker_in_process": False, "worker_test_apply_delay_seconds": 0.3}
        )
        asyncio.run(_make_student(settings))
        token = mint(settings, sub="f003ghc", scopes=list(WRITER))
        with TestClient(create_app(settings, clock=clock)) as client:
            task_id = _created_task(client, token)
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                _connect(ws, token)
                assert ws.receive_json() == {"type": "connection_ack"}
                ws.send_json(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"id": task_id}},
                    }
                )
                first = ws.receive_json()
                assert first["payload"]["data"]["taskUpdated"]["status"] == "ACCEPTED"
                assert client.portal.call(_apply_one, settings) is True
                seen = []
                while (message := ws.receive_json())["type"] == "next":
                    seen.append(message["payload"]["data"]["taskUpdated"])
                assert message == {"id": "1", "type": "complete"}
        assert [s["status"] for s in seen] == ["RUNNING", "COMPLETE"]
        assert seen[-1] == {
            "taskId": task_id,
            "status": "COMPLETE",
            "path": f"/api/students/{NETID}",
        }
        # Each update sent was a disclosure of the task, recorded under the subscription's id.
        records = asyncio.run(_subscription_records(settings))
        assert [(r.netid, r.sub, r.record_types) for r in records] == [
            (NETID, "f003ghc", "tasks")
        ] * 3
        (request_id,) = {r.request_id for r in records}
        assert len(request_id) == 32

    def test_past_the_operations_of_one_connection_rate_limited(self, settings, clock, monkeypatch):
        monkeypatch.setattr(websocket, "OPERATIONS_PER_CONNECTION", 1)
        settings = settings.model_copy(update={"worker_in_process": False})
        asyncio.run(_make_student(settings))
        token = mint(settings, sub="f003ghc", scopes=list(WRITER))
        with TestClient(create_app(settings, clock=clock)) as client:
            follow = {"query": SUBSCRIBE, "variables": {"id": _created_task(client, token)}}
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                _connect(ws, token)
                assert ws.receive_json() == {"type": "connection_ack"}
                ws.send_json({"id": "1", "type": "subscribe", "payload": follow})
                assert ws.receive_json()["type"] == "next"  # ACCEPTED; it stays open
                ws.send_json({"id": "2", "type": "subscribe", "payload": follow})
                refused = ws.receive_json()
                ws.send_json({"id": "1", "type": "complete"})
                ws.send_json({"id": "3", "type": "subscribe", "payload": follow})
                again = ws.receive_json()
        assert refused["id"] == "2" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "at most 1 operations" in refused["payload"][0]["message"]
        assert again["id"] == "3" and again["type"] == "next"  # room again once one completes

    def test_rejects_a_connection_without_a_token(self, settings, clock):
        app = create_app(settings, clock=clock)
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", ["graphql-transport-ws"]) as ws,
        ):
            _connect(ws, None)
            message = ws.receive()
        assert message["type"] == "websocket.close" and message["code"] == 4403

    def test_a_stranger_cannot_follow(self, settings, clock):
        asyncio.run(_make_student(settings))
        owner = mint(settings, sub="f003ghc", scopes=list(WRITER))
        stranger = mint(settings, sub="f000zzz", scopes=list(WRITER))
        with TestClient(
            create_app(settings.model_copy(update={"worker_in_process": False}), clock=clock)
        ) as client:
            task_id = _created_task(client, owner)
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                _connect(ws, stranger)
                assert ws.receive_json() == {"type": "connection_ack"}
                ws.send_json(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"id": task_id}},
                    }
                )
                message = ws.receive_json()
        assert message["type"] in ("error", "next")
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_subscription_over_http_is_a_bad_request(client, auth):
    response = await client.post(
        "/graphql",
        json={"query": 'subscription { taskUpdated(taskId: "x") { status } }'},
        headers=auth(),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
