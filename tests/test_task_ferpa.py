"""A task about a FERPA-protected student exists only for holders of people:private, whoever asks
(DESIGN section 3): through REST, task(id:), node(id:) and taskUpdated, it gets exactly the
answer of an unknown task id."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE
from app.auth.tokens import mint
from app.db import create_engine, create_sessionmaker, transaction
from app.main import create_app
from app.models import Student
from tests.factories import make_student
from tests.worker.helpers import seed_payload

HIDDEN = "f000hid"
UNKNOWN_TASK = "0" * 24
OWNER = (STUDENTS_WRITE, STUDENTS_READ, PEOPLE_PRIVATE)
# Everyone who may see tasks at all, but not FERPA-protected students.
WITHOUT_PRIVATE = {
    "an administrator": dict(scopes=(TASKS_WRITE, STUDENTS_READ, STUDENTS_WRITE), sub="f000adm"),
    "the requester itself": dict(scopes=(TASKS_WRITE, STUDENTS_READ), sub="f003ghc"),
}
TASK = "query($id: String!) { task(id: $id) { taskId resourceId payload } }"
NODE = "query($id: ID!) { node(id: $id) { ... on Task { taskId resourceId } } }"
SUBSCRIBE = "subscription($id: String!) { taskUpdated(taskId: $id) { taskId resourceId } }"


@pytest.fixture
async def hidden_task(client, session, auth) -> dict[str, str]:
    """A task about a protected student, accepted for a requester allowed to see that student."""
    await make_student(session, netid=HIDDEN, ferpa_protected=True)
    await session.commit()
    response = await client.patch(
        f"/api/students/{HIDDEN}", json=seed_payload(), headers=auth(*OWNER)
    )
    assert response.status_code == 202
    task_id = response.headers["location"].rsplit("/", 1)[1]
    set_dplans = """mutation($n: String!) { setDplans(netid: $n,
        dplans: [{termCode: "202301", dplanId: "R", dplanSourceId: "PHL"}]) { id } }"""
    created = await client.post(
        "/graphql",
        json={"query": set_dplans, "variables": {"n": HIDDEN}},
        headers=auth(*OWNER),
    )
    node_id = created.json()["data"]["setDplans"]["id"]
    return {"task_id": task_id, "node_id": node_id}


@pytest.mark.parametrize("who", sorted(WITHOUT_PRIVATE))
class TestWithoutPeoplePrivate:
    async def test_rest_answers_as_for_an_unknown_id(self, client, auth, hidden_task, who):
        headers = auth(*WITHOUT_PRIVATE[who]["scopes"], sub=WITHOUT_PRIVATE[who]["sub"])
        hidden = await client.get(f"/api/tasks/{hidden_task['task_id']}", headers=headers)
        unknown = await client.get(f"/api/tasks/{UNKNOWN_TASK}", headers=headers)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.content == unknown.content
        assert HIDDEN.encode() not in hidden.content

    async def test_graphql_task_is_null(self, client, auth, hidden_task, who):
        headers = auth(*WITHOUT_PRIVATE[who]["scopes"], sub=WITHOUT_PRIVATE[who]["sub"])
        hidden = await client.post(
            "/graphql",
            json={"query": TASK, "variables": {"id": hidden_task["task_id"]}},
            headers=headers,
        )
        unknown = await client.post(
            "/graphql", json={"query": TASK, "variables": {"id": UNKNOWN_TASK}}, headers=headers
        )
        assert hidden.content == unknown.content
        assert hidden.json()["data"] == {"task": None}

    async def test_graphql_node_is_null(self, client, auth, hidden_task, who):
        headers = auth(*WITHOUT_PRIVATE[who]["scopes"], sub=WITHOUT_PRIVATE[who]["sub"])
        hidden = await client.post(
            "/graphql",
            json={"query": NODE, "variables": {"id": hidden_task["node_id"]}},
            headers=headers,
        )
        assert hidden.json()["data"] == {"node": None}


async def test_people_private_still_sees_it(client, auth, hidden_task):
    for headers in (auth(*OWNER), auth(TASKS_WRITE, PEOPLE_PRIVATE, sub="f000adm")):
        rest = await client.get(f"/api/tasks/{hidden_task['task_id']}", headers=headers)
        assert rest.status_code == 200 and rest.json()["resource_id"] == HIDDEN
        gql = await client.post(
            "/graphql",
            json={"query": TASK, "variables": {"id": hidden_task["task_id"]}},
            headers=headers,
        )
        assert gql.json()["data"]["task"]["resourceId"] == HIDDEN


async def test_a_student_protected_after_the_request_hides_the_task(client, session, auth):
    await make_student(session, netid="f000lat")
    await session.commit()
    response = await client.patch(
        "/api/students/f000lat", json=seed_payload(), headers=auth(STUDENTS_WRITE, STUDENTS_READ)
    )
    location = response.headers["location"]
    assert (await client.get(location, headers=auth(STUDENTS_READ))).status_code == 200
    await session.execute(update(Student).values(ferpa_protected=True))
    await session.commit()
    assert (await client.get(location, headers=auth(STUDENTS_READ))).status_code == 404


# --- taskUpdated over graphql-transport-ws ----------------------------------------------------


async def _make_hidden_student(settings) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await make_student(session, netid=HIDDEN, ferpa_protected=True)
    finally:
        await engine.dispose()


def _first_answer(client: TestClient, token: str, task_id: str) -> dict:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"id": task_id}},
            }
        )
        return ws.receive_json()


def test_subscription_answers_as_for_an_unknown_id(settings, clock):
    settings = settings.model_copy(update={"worker_in_process": False})
    asyncio.run(_make_hidden_student(settings))
    owner = mint(settings, sub="f003ghc", scopes=list(OWNER))
    admin = mint(settings, sub="f000adm", scopes=[TASKS_WRITE, STUDENTS_READ])
    with TestClient(create_app(settings, clock=clock)) as client:
        created = client.patch(
            f"/api/students/{HIDDEN}",
            json=seed_payload(),
            headers={"Authorization": f"Bearer {owner}"},
        )
        task_id = created.headers["location"].rsplit("/", 1)[1]
        hidden = _first_answer(client, admin, task_id)
        unknown = _first_answer(client, admin, UNKNOWN_TASK)
        allowed = _first_answer(client, owner, task_id)
    assert hidden["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert str(hidden).replace(task_id, "ID") == str(unknown).replace(UNKNOWN_TASK, "ID")
    assert HIDDEN not in str(hidden)
    assert allowed["payload"]["data"]["taskUpdated"]["resourceId"] == HIDDEN
