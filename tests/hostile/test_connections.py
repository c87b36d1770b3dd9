"""Finding 13: one token opened WebSocket connections without bound. Now a caller holds at most
WEBSOCKET_MAX_CONNECTIONS_PER_CALLER at once, counted across processes through Redis; past it the
new connection is closed 4429 with a reason, and a killed process's connections stop counting
once their lease runs out. Through a real WebSocket client (the `websockets` library)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from app.auth.scopes import ALL_SCOPES
from app.auth.tokens import mint
from app.graphql.websocket import TOO_MANY_CONNECTIONS
from tests.hostile.instances import (
    REDIS_URL,
    a_caller,
    connect,
    instance,
    next_message,
    redis_up,
)
from tests.hostile.stalls import loop_prober
from tests.served import Served, running

ACK = {"type": "connection_ack"}


async def refusal(ws: Any) -> tuple[int, str]:
    """The close code and reason of a connection the server closed."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await next_message(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def capped(settings, most: int, **more):
    update = {"websocket_max_connections_per_caller": most, "worker_in_process": False, **more}
    return settings.model_copy(update=update)


async def test_past_the_most_a_connection_closes_4429_in_one_process(settings, clock):
    token = mint(settings, sub=a_caller(), scopes=list(ALL_SCOPES))
    someone_else = mint(settings, sub=a_caller(), scopes=list(ALL_SCOPES))
    async with instance(capped(settings, 2), clock) as one:
        async with loop_prober(one.client) as prober:
            held = [await one.connect(token) for _ in range(2)]
            acks = [await next_message(ws) for ws in held]
            third = await one.connect(token)
            refused = await refusal(third)
            other = await one.connect(someone_else)
            other_ack = await next_message(other)
            await held[0].close()
            again = await one.connect(token)
            again_ack = await next_message(again)
            for ws in (*held, other, again):
                await ws.close()
        prober.assert_no_stall()
    assert acks == [ACK, ACK]
    assert refused == (4429, TOO_MANY_CONNECTIONS.format(2))
    assert other_ack == ACK  # per caller
    assert again_ack == ACK  # a closed connection gives its place back
    assert one.app.state.studentgraph.brakes.slots.open == {}  # nothing held once all closed


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_processes_count_one_callers_connections_together(settings, clock):
    shared = capped(settings, 2, redis_url=REDIS_URL)
    token = mint(settings, sub=a_caller(), scopes=list(ALL_SCOPES))
    async with instance(shared, clock) as one, instance(shared, clock) as two:
        async with loop_prober(one.client) as prober:
            held = [await one.connect(token), await two.connect(token)]
            acks = [await next_message(ws) for ws in held]
            refused = [await refusal(await i.connect(token)) for i in (one, two)]
            await held[0].close()
            await asyncio.sleep(0.2)  # the server sees the close and gives the place back
            again = await two.connect(token)
            again_ack = await next_message(again)
            for ws in (*held, again):
                await ws.close()
        prober.assert_no_stall()
    assert acks == [ACK, ACK]
    assert [code for code, _ in refused] == [4429, 4429]
    assert again_ack == ACK


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_a_killed_processs_connections_expire_with_their_lease(settings, clock):
    """A process killed with its connections open never gives their places back: they count
    until their lease (3 s here) runs out, then no more."""
    sub = a_caller()
    token = mint(settings, sub=sub, scopes=list(ALL_SCOPES))
    env = {
        "REDIS_URL": REDIS_URL,
        "WEBSOCKET_MAX_CONNECTIONS_PER_CALLER": "1",
        "WEBSOCKET_CONNECTION_LEASE_SECONDS": "3",
        "WORKER_IN_PROCESS": "false",
    }
    shared = capped(settings, 1, redis_url=REDIS_URL, websocket_connection_lease_seconds=3)
    served = Served(settings.database_url, **env)
    with running(served):
        ws_url = served.url.replace("http://", "ws://") + "/graphql"
        async with instance(shared, clock) as here:
            victim = await connect(ws_url, token)
            assert await next_message(victim) == ACK
            served.processes[0].kill()  # SIGKILL: no close, no giving back
            served.processes[0].wait(10)
            refused_while_leased = await refusal(await here.connect(token))
            attempts = 0
            while True:  # the lease runs out on Redis's clock; poll for it (at most 30 tries)
                attempts += 1
                ws = await here.connect(token)
                try:
                    if await next_message(ws) == ACK:
                        break
                except websockets.ConnectionClosed:
                    assert attempts < 30, "the killed process's connection never expired"
                    await asyncio.sleep(0.5)
                finally:
                    await ws.close()
    assert refused_while_leased[0] == 4429
    assert attempts > 1  # it did count after the kill, until the lease ran out
