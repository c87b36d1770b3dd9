"""App instances for the brakes' tests: each served by uvicorn on a port of its own, in the
test's event loop (so `loop_prober` watches every instance at once), reached over HTTP through
`client` and over a real WebSocket (the `websockets` library) at `ws_url`. Two instances given
the same `REDIS_URL` are two API processes sharing their limits."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import uvicorn
import websockets
from websockets.typing import Subprotocol

from app.clock import Clock
from app.config import Settings
from app.main import create_app

REDIS_URL = "redis://127.0.0.1:6379/0"
PROTOCOL = [Subprotocol("graphql-transport-ws")]


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def a_caller() -> str:
    """A `sub` no other test (nor another run sharing this Redis) has used."""
    return f"caller-{uuid.uuid4().hex[:12]}"


@dataclass
class Instance:
    app: Any
    client: httpx.AsyncClient
    ws_url: str

    async def connect(self, token: str) -> Any:
        return await connect(self.ws_url, token)


async def connect(ws_url: str, token: str) -> Any:
    """A WebSocket that has sent `connection_init`; the caller reads the server's answer."""
    ws = await websockets.connect(ws_url, subprotocols=PROTOCOL)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(orjson.dumps(init).decode())
    return ws


@asynccontextmanager
async def instance(settings: Settings, clock: Clock) -> AsyncIterator[Instance]:
    app = create_app(settings, clock=clock)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Instance(app, client, f"ws://127.0.0.1:{port}/graphql")
        finally:
            server.should_exit = True
            await serving
            listener.close()


async def next_message(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


async def ask(ws: Any, query: str, variables: dict[str, Any] | None = None, op: str = "1") -> Any:
    """One operation over an acknowledged WebSocket: its first answer (`next` or `error`)."""
    payload = {"query": query, "variables": variables or {}}
    await ws.send(orjson.dumps({"id": op, "type": "subscribe", "payload": payload}).decode())
    return await next_message(ws)
