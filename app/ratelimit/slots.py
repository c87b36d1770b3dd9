"""WebSocket connections per caller (`WEBSOCKET_MAX_CONNECTIONS_PER_CALLER`), counted across
processes through Redis, in memory without it.

In Redis each caller has a sorted set of its open connections, each scored by when its lease
ends (on Redis's clock). A connection renews its lease every third of
`WEBSOCKET_CONNECTION_LEASE_SECONDS` while it is open and removes itself when it closes; one
whose process was killed stops renewing, and is no longer counted once its lease has run out.
Taking a slot drops the expired ones, counts the rest and adds the new one in one atomic script,
so two processes cannot both take the last slot. Redis unreachable: this process counts alone
(logged), as the rate limits do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

# KEYS[1] the caller's connections; ARGV the most, the lease (s), the connection's id, and
# whether to take a slot (1) or renew one already held (0). Returns 1 if it holds one now.
SLOT_SCRIPT = """
local most, lease, id, take = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1'
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now))
if take and redis.call('ZCARD', KEYS[1]) >= most then
  return 0
end
redis.call('ZADD', KEYS[1], string.format('%.6f', now + lease), id)
redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 1)
return 1
"""


@dataclass(eq=False)
class Slot:
    """One open connection's place among its caller's."""

    sub: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    shared: bool = False  # counted in Redis (else in this process)
    heartbeat: asyncio.Task[None] | None = None


class Slots(Protocol):
    async def take(self, sub: str) -> Slot | None:
        """A slot for one more connection of `sub`; None when it holds the most already."""

    async def give_back(self, slot: Slot) -> None: ...

    async def close(self) -> None: ...


class LocalSlots:
    """Open connections per caller in this process: an entry per open connection, none
    once a caller has none (bounded by the connections the server holds open)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.open: dict[str, set[str]] = {}

    async def take(self, sub: str) -> Slot | None:
        return self.take_now(sub)

    def take_now(self, sub: str) -> Slot | None:
        held = self.open.setdefault(sub, set())  # most >= 1: a set created here gets one
        if len(held) >= self.most:
            return None
        slot = Slot(sub)
        held.add(slot.id)
        return slot

    async def give_back(self, slot: Slot) -> None:
        held = self.open.get(slot.sub, set())
        held.discard(slot.id)
        if not held:
            self.open.pop(slot.sub, None)

    async def close(self) -> None:
        return None


class RedisSlots:
    def __init__(self, client: Any, most: int, lease_seconds: float) -> None:
        self.client, self.most, self.lease = client, most, lease_seconds
        self.script = client.register_script(SLOT_SCRIPT)
        self.fallback = LocalSlots(most)

    def _key(self, sub: str) -> str:
        return f"studentgraph:websockets:{sub}"

    async def _call(self, slot: Slot, take: bool) -> bool:
        args = [self.most, self.lease, slot.id, "1" if take else "0"]
        return bool(await self.script(keys=[self._key(slot.sub)], args=args))

    async def take(self, sub: str) -> Slot | None:
        slot = Slot(sub, shared=True)
        try:
            if not await self._call(slot, take=True):
                return None
        except Exception:
            log.warning("Redis did not answer: WebSockets counted per process", exc_info=True)
            return self.fallback.take_now(sub)
        slot.heartbeat = asyncio.create_task(self._renew(slot))
        return slot

    async def _renew(self, slot: Slot) -> None:
        """Every third of the lease, while the connection is open (a missed renewal or two
        is not yet an expired lease)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._call(slot, take=False)
            except Exception:
                log.warning("Redis did not answer: a WebSocket's lease not renewed", exc_info=True)

    async def give_back(self, slot: Slot) -> None:
        if not slot.shared:
            await self.fallback.give_back(slot)
            return
        if slot.heartbeat is not None:
            slot.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slot.heartbeat
        try:
            await self.client.zrem(self._key(slot.sub), slot.id)
        except Exception:  # its lease runs out instead
            log.warning("Redis did not answer: a WebSocket's slot left to expire", exc_info=True)

    async def close(self) -> None:
        return None  # the client is the buckets' (app.ratelimit.Brakes closes it)
