"""A GraphQL document's size is bounded (GRAPHQL_MAX_DOCUMENT_BYTES, 64 KiB) at every door, before
it is parsed (issue 19): graphql-core lexes in pure Python, so a megabyte of comment held the
event loop 0.5-1.1 s. POST, GET, a WebSocket subscribe, an automatic persisted query when sent
and when read back by its hash, and `studentgraph persisted add` each refuse it with
MAX_DOCUMENT_BYTES_EXCEEDED, naming the setting."""

from __future__ import annotations

import hashlib
import json

import httpx
from sqlalchemy import func, select
from starlette.testclient import TestClient

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.cli import main
from app.main import create_app
from app.models import PersistedQuery
from tests.conftest import counting_statements
from tests.hostile import assert_clean
from tests.hostile.stalls import loop_prober

MAXIMUM = 65536
QUERY = "{ dplanCodes { id } }"
CODE = "MAX_DOCUMENT_BYTES_EXCEEDED"


def padded(size: int, filler: str = "x") -> str:
    """A valid document of `size` bytes: QUERY and one long comment (a single token)."""
    head = QUERY + " #"
    count = (size - len(head.encode())) // len(filler.encode())
    text = head + filler * count
    assert len(text.encode()) == size
    return text


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> str:
    return json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha(text)}})


def assert_refused(answer: httpx.Response, size: int, *, stored: bool = False) -> None:
    assert answer.status_code == 413, answer.text
    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == CODE
    what = "the stored document" if stored else "the document"
    assert error["message"].startswith(f"{what} is {size} bytes, more than the maximum of 65536")
    assert "GRAPHQL_MAX_DOCUMENT_BYTES" in error["message"]
    assert_clean(answer)


async def _stored(session) -> int:
    count = await session.scalar(select(func.count()).select_from(PersistedQuery))
    await session.rollback()
    return int(count or 0)


class TestOverHttp:
    async def test_a_megabyte_of_string_is_refused_unparsed_without_a_stall(self, app, auth):
        # One string a megabyte long: lexed a character at a time, ~0.25 s each here.
        string = '"' + "y" * 1_000_000 + '"'
        hostile = [f"{{ a{i}: __typename(x: {string}) }}" for i in range(5)]
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
            loop_prober(client) as prober,
        ):
            with counting_statements(app) as statements:
                for text in hostile:
                    answer = await client.post("/graphql", json={"query": text}, headers=auth())
                    assert_refused(answer, len(text.encode()))
        prober.assert_no_stall()
        assert statements.count == 0

    async def test_at_the_bound_it_runs_one_byte_past_it_is_refused(self, client, auth):
        at = await client.post("/graphql", json={"query": padded(MAXIMUM)}, headers=auth())
        assert at.status_code == 200 and "errors" not in at.json(), at.text
        past = await client.post("/graphql", json={"query": padded(MAXIMUM + 1)}, headers=auth())
        assert_refused(past, MAXIMUM + 1)

    async def test_bytes_not_characters(self, client, auth):
        text = padded(MAXIMUM + 1, filler="é")  # fewer characters than the bound, more bytes
        assert len(text) < MAXIMUM
        answer = await client.post("/graphql", json={"query": text}, headers=auth())
        assert_refused(answer, MAXIMUM + 1)

    async def test_a_setting_held_over_get_too(self, settings, clock, auth):
        smaller = settings.model_copy(update={"graphql_max_document_bytes": 100})
        app = create_app(smaller, clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            fits = await client.post("/graphql", json={"query": padded(100)}, headers=auth())
            over = await client.post("/graphql", json={"query": padded(101)}, headers=auth())
            # (httpx sends no query string past 64 KiB: GET is tested under this smaller bound)
            params = {"query": padded(101)}
            over_get = await client.get("/graphql", params=params, headers=auth())
        assert fits.status_code == 200
        for answer in (over, over_get):
            assert answer.status_code == 413
            (error,) = answer.json()["errors"]
            assert error["extensions"]["code"] == CODE
            expected = "the document is 101 bytes, more than the maximum of 100 "
            assert error["message"].startswith(expected)


class TestPersisted:
    async def test_sent_with_its_hash_it_is_refused_and_not_stored(self, client, auth, session):
        text = padded(MAXIMUM + 1)
        body = {"query": text, "extensions": json.loads(apq(text))}
        assert_refused(await client.post("/graphql", json=body, headers=auth()), MAXIMUM + 1)
        assert await _stored(session) == 0

    def test_stored_under_a_larger_bound_it_is_refused_when_read_back(
        self, settings, clock, database_url, tmp_path, monkeypatch
    ):
        text = padded(MAXIMUM + 100)
        document = tmp_path / "large.graphql"
        document.write_text(text)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("GRAPHQL_MAX_DOCUMENT_BYTES", str(2 * MAXIMUM))
        assert main(["persisted", "add", str(document)]) == 0  # an operator's larger bound
        headers = {"Authorization": f"Bearer {mint(settings, sub='f003ghc', scopes=[])}"}
        with TestClient(create_app(settings, clock=clock)) as client:
            answer = client.get("/graphql", params={"extensions": apq(text)}, headers=headers)
        assert_refused(answer, MAXIMUM + 100, stored=True)

    def test_persisted_add_refuses_it(self, settings, database_url, tmp_path, monkeypatch, capsys):
        document = tmp_path / "large.graphql"
        document.write_text(padded(MAXIMUM + 1))
        monkeypatch.setenv("DATABASE_URL", database_url)
        assert main(["persisted", "add", str(document)]) == 1
        error = capsys.readouterr().err
        assert f"{sha(padded(MAXIMUM + 1))}: the document is {MAXIMUM + 1} bytes" in error
        assert "GRAPHQL_MAX_DOCUMENT_BYTES" in error


def test_over_websocket(settings, clock):
    token = mint(settings, sub="f003ghc", scopes=list(ALL_SCOPES))
    with (
        TestClient(create_app(settings, clock=clock)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        payload = {"query": padded(MAXIMUM + 1)}
        ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        message = ws.receive_json()
        assert message["type"] == "error" and message["id"] == "1"
        assert message["payload"][0]["extensions"]["code"] == CODE
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": QUERY}})
        assert ws.receive_json()["type"] == "next"  # the connection goes on
