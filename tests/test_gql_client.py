"""A real client (PyPI `gql`: its httpx transport and its graphql-transport-ws transport) against
a real server (`studentgraph serve`, uvicorn, in a subprocess): a query, a mutation with
variables, a subscription over WebSocket, and a persisted query."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from websockets.typing import Subprotocol

from app.auth import STUDENTS_READ, STUDENTS_WRITE
from app.auth.tokens import mint
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from tests.conftest import _settings
from tests.factories import make_student
from tests.served import Served, running

ROOT = Path(__file__).resolve().parents[1]
NETID = "f0027k4"
STUDENT = "query($n: String!) { student(netid: $n) { netid classYear } }"
SET_DPLANS = """mutation($netid: String!, $dplans: [DplanInput!]!) {
  setDplans(netid: $netid, dplans: $dplans) { taskId status } }"""
FOLLOW = "subscription($id: String!) { taskUpdated(taskId: $id) { status } }"


async def _make_the_student(database_url: str) -> None:
    engine = create_engine(_settings(database_url))
    async with create_sessionmaker(engine)() as session:
        await make_student(session, netid=NETID)
        await session.commit()
    await engine.dispose()


@pytest.fixture(scope="module")
def served(module_database_url: str) -> Iterator[Served]:
    """`studentgraph serve` on a free port, with its in-process worker, once for the module's
    tests on each database (its start was most of each test's time)."""
    asyncio.run(_make_the_student(module_database_url))
    with running(Served(module_database_url)) as served:
        yield served


@pytest.fixture
def server(served: Served) -> str:
    return served.url


@pytest.fixture
def settings(served: Served) -> Settings:
    """The served instance's settings (its signing key mints the tokens)."""
    return served.settings


async def test_gql_over_http_and_websocket(server, settings):
    token = mint(settings, sub="f003ghc", scopes=[STUDENTS_READ, STUDENTS_WRITE])
    headers = {"Authorization": f"Bearer {token}"}
    http = HTTPXAsyncTransport(url=f"{server}/graphql", headers=headers)
    async with Client(transport=http) as session:
        found = await session.execute(GraphQLRequest(STUDENT, variable_values={"n": NETID}))
        assert found["student"]["netid"] == NETID
        dplans = [{"termCode": "202301", "dplanId": "R", "dplanSourceId": "PHL"}]
        created = await session.execute(
            GraphQLRequest(SET_DPLANS, variable_values={"netid": NETID, "dplans": dplans})
        )
    task_id = created["setDplans"]["taskId"]

    ws_url = server.replace("http://", "ws://") + "/graphql"
    ws = WebsocketsTransport(url=ws_url, init_payload={"headers": headers})
    async with Client(transport=ws) as session:
        follow = GraphQLRequest(FOLLOW, variable_values={"id": task_id})
        statuses = [u["taskUpdated"]["status"] async for u in session.subscribe(follow)]
        assert statuses[-1] == "COMPLETE"
        # a query over the same WebSocket, as graphql-ws clients may send every operation
        again = await session.execute(GraphQLRequest(STUDENT, variable_values={"n": NETID}))
    assert again == found


async def test_a_persisted_query(server, settings):
    token = mint(settings, sub="f003ghc", scopes=[STUDENTS_READ])
    headers = {"Authorization": f"Bearer {token}"}
    text = GraphQLRequest(STUDENT).payload["query"]  # the text gql sends (its own printing)
    sha = hashlib.sha256(text.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    http = HTTPXAsyncTransport(url=f"{server}/graphql", headers=headers)
    async with Client(transport=http) as session:
        request = GraphQLRequest(STUDENT, variable_values={"n": NETID}, extensions=extensions)
        registered = await session.execute(request)
    assert registered["student"]["netid"] == NETID
    # by hash alone now, as Apollo's link sends it (GET, cacheable)
    params = {"extensions": f'{{"persistedQuery":{{"version":1,"sha256Hash":"{sha}"}}}}'}
    params["variables"] = f'{{"n":"{NETID}"}}'
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{server}/graphql", params=params, headers=headers)
    assert answer.json()["data"] == registered
    assert answer.headers["cache-control"].startswith("private") and answer.headers["etag"]


async def test_a_websocket_message_past_max_body_bytes_closes_1009(server, settings):
    """uvicorn holds a message to MAX_BODY_BYTES, as the HTTP door holds a body (16 MiB before)."""
    token = mint(settings, sub="f003ghc", scopes=[STUDENTS_READ])
    ws_url = server.replace("http://", "ws://") + "/graphql"
    big = orjson.dumps(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": "{ __typename }", "variables": {"x": "a" * (1024 * 1024)}},
        }
    ).decode()
    async with websockets.connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(orjson.dumps(init).decode())
        assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
        await ws.send(big)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
