"""Clients as a registrar's tool calls the API: send `setDplans` over HTTP, then follow the task
over WebSocket (`subscription taskUpdated`, graphql-transport-ws) until it is COMPLETE; and a
plain PATCH sender for filling a backlog."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import orjson
import websockets

SET_DPLANS = (
    "mutation($netid: String!, $dplans: [DplanInput!]!) "
    "{ setDplans(netid: $netid, dplans: $dplans) { taskId status } }"
)
FOLLOW = "subscription($id: String!) { taskUpdated(taskId: $id) { status message } }"
FINISHED = {"COMPLETE", "ERROR"}


@dataclass
class Timings:
    """Per request, seconds from sending the mutation: to its answer, and to COMPLETE."""

    accepted: list[float] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass(frozen=True)
class Target:
    base: str  # http://127.0.0.1:port
    token: str
    netids: list[str]
    term_codes: list[str]
    codes: list[str]

    def dplans(self, i: int) -> list[dict[str, str]]:
        code = self.codes[i % len(self.codes)]
        return [{"termCode": t, "dplanId": code, "dplanSourceId": "PHL"} for t in self.term_codes]

    def patch_body(self, i: int) -> bytes:
        code = self.codes[i % len(self.codes)]
        rows = [
            {"term_code": t, "dplan_id": code, "dplan_source_id": "PHL"} for t in self.term_codes
        ]
        return orjson.dumps({"dplans": rows})


class Follower:
    """One client: one keep-alive HTTP connection and one WebSocket, one request at a time."""

    def __init__(self, target: Target, http: httpx.AsyncClient) -> None:
        self.target = target
        self.http = http
        self.ws: websockets.ClientConnection | None = None
        self.ids = itertools.count(1)

    async def __aenter__(self) -> Follower:
        url = self.target.base.replace("http://", "ws://") + "/graphql"
        self.ws = await websockets.connect(
            url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
        )
        auth = {"Authorization": f"Bearer {self.target.token}"}
        await self.ws.send(orjson.dumps({"type": "connection_init", "payload": auth}).decode())
        ack = orjson.loads(await self.ws.recv())
        assert ack["type"] == "connection_ack", ack
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def one(self, netid: str, i: int, timings: Timings) -> None:
        started = time.perf_counter()
        response = await self.http.post(
            "/graphql",
            content=orjson.dumps(
                {
                    "query": SET_DPLANS,
                    "variables": {"netid": netid, "dplans": self.target.dplans(i)},
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        answer = orjson.loads(response.content)
        if response.status_code != 200 or answer.get("errors"):
            timings.errors += 1
            return
        accepted = time.perf_counter() - started
        status = await self._follow(answer["data"]["setDplans"]["taskId"])
        if status != "COMPLETE":
            timings.errors += 1
            return
        timings.accepted.append(accepted)
        timings.completed.append(time.perf_counter() - started)

    async def _follow(self, task_id: str) -> str:
        assert self.ws is not None
        sid = str(next(self.ids))
        message = {
            "id": sid,
            "type": "subscribe",
            "payload": {"query": FOLLOW, "variables": {"id": task_id}},
        }
        await self.ws.send(orjson.dumps(message).decode())
        status = "?"
        while True:
            reply = orjson.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if reply.get("id") != sid:
                continue
            if reply["type"] == "next":
                status = reply["payload"]["data"]["taskUpdated"]["status"]
            if reply["type"] in ("complete", "error") or status in FINISHED:
                if reply["type"] == "next":
                    await self.ws.send(orjson.dumps({"id": sid, "type": "complete"}).decode())
                return status


def _client(target: Target) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=target.base,
        headers={"Authorization": f"Bearer {target.token}"},
        timeout=60,
        limits=httpx.Limits(max_connections=1),
    )


async def followed(
    target: Target, clients: int, seconds: float | None, count: int | None
) -> Timings:
    """`clients` followers, each sending the next netid's request once the last is COMPLETE,
    for `seconds` or until `count` requests in all."""
    timings = Timings()
    netids = _cycle(target.netids)
    numbers = itertools.count()
    deadline = time.perf_counter() + (seconds or 1e9)

    async def client() -> None:
        async with _client(target) as http, Follower(target, http) as follower:
            while time.perf_counter() < deadline:
                i = next(numbers)
                if count is not None and i >= count:
                    return
                await follower.one(next(netids), i, timings)

    await asyncio.gather(*(client() for _ in range(clients)))
    return timings


async def fill(target: Target, netids: list[str], clients: int = 8) -> int:
    """PATCH each netid once (8 at a time); returns how many were accepted (202)."""
    queue = iter(enumerate(netids))
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        async with _client(target) as http:
            for i, netid in queue:
                response = await http.patch(
                    f"/api/students/{netid}",
                    content=target.patch_body(i),
                    headers={"Content-Type": "application/json"},
                )
                accepted += response.status_code == 202

    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted


def _cycle(items: list[str]) -> Iterator[str]:
    return itertools.cycle(items)
