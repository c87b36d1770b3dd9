"""The brakes on what one caller can spend (docs/api/limits.md), each shared between
processes through Redis with `REDIS_URL`, in memory otherwise:

* requests: `RATE_LIMIT_PER_SECOND` on average in bursts of `RATE_LIMIT_BURST`, per caller (the
  token's `sub`), checked as the token is, before anything else is read: it bounds what every
  request costs whatever it asks (a disclosure record, a found set, a task, a round trip);
* cost: `RATE_LIMIT_COST_PER_MINUTE` per caller, the budget GitHub, Shopify and Canvas meter
  their GraphQL APIs by: a GraphQL operation draws its requested cost (app/graphql/limits.py),
  a REST request the rows it asks for, each at least 1, before the database is asked;
* key exchanges: `POST /api/jwt` per API key id presented and per client address;
* WebSocket connections open at once per caller (app/ratelimit/slots.py).

Past a bucket: `RateLimited` (429, `Retry-After`); the cost budget left is told in
`RateLimit-*` headers (draft-ietf-httpapi-ratelimit-headers-06) and, in GraphQL, in
`extensions.cost.throttleStatus` (Shopify's names)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.errors import RateLimited
from app.ratelimit.buckets import Bucket, Buckets, Clock, Draw, LocalBuckets, RedisBuckets
from app.ratelimit.slots import LocalSlots, RedisSlots, Slot, Slots

__all__ = ["Brakes", "Draw", "Slot", "budget_headers", "build_brakes", "throttle_status"]


@dataclass
class Brakes:
    buckets: Buckets
    slots: Slots
    requests: Bucket | None = None
    cost: Bucket | None = None
    per_key: Bucket | None = None  # POST /api/jwt, per API key id presented
    per_address: Bucket | None = None  # ... and per client address

    async def request(self, sub: str) -> None:
        """One request of `sub`'s (`RateLimited` past RATE_LIMIT_PER_SECOND / _BURST)."""
        if self.requests is not None:
            draw = await self.buckets.draw(self.requests, sub, 1)
            if not draw.allowed:
                raise RateLimited(math.ceil(draw.wait))

    async def spend(self, sub: str, cost: int) -> Draw | None:
        """`cost` from `sub`'s budget (at least 1; None when there is no budget), or
        `RateLimited` saying what is left and when `cost` will be."""
        if self.cost is None:
            return None
        cost = max(1, min(cost, int(self.cost.capacity)))
        draw = await self.buckets.draw(self.cost, sub, cost)
        if not draw.allowed:
            wait = math.ceil(draw.wait)
            message = (
                f"this costs {cost}, more than the {math.floor(draw.remaining)} left of your "
                f"budget of {int(self.cost.capacity)} a minute; retry in {wait} s (Retry-After), "
                "or ask for fewer rows"
            )
            cost_left = {"requested": cost, "throttleStatus": throttle_status(draw)}
            raise RateLimited(wait, message, {"cost": cost_left}, budget_headers(draw))
        return draw

    async def exchange(self, key_id: str | None, address: str) -> None:
        """One `POST /api/jwt` attempt, before the database is asked: per client address, then
        per API key id (a key that is not well formed has none, and is refused unread)."""
        for bucket, key in ((self.per_address, address), (self.per_key, key_id)):
            if bucket is not None and key is not None:
                draw = await self.buckets.draw(bucket, key, 1)
                if not draw.allowed:
                    message = "too many API key exchanges; retry in {} s (Retry-After)"
                    raise RateLimited(math.ceil(draw.wait), message.format(math.ceil(draw.wait)))

    async def close(self) -> None:
        await self.slots.close()
        await self.buckets.close()


def throttle_status(draw: Draw) -> dict[str, Any]:
    """The budget after a draw, in Shopify's names (`extensions.cost.throttleStatus`)."""
    return {
        "maximumAvailable": int(draw.bucket.capacity),
        "currentlyAvailable": math.floor(draw.remaining),
        "restoreRate": draw.bucket.rate,
    }


def budget_headers(draw: Draw) -> dict[str, str]:
    """draft-ietf-httpapi-ratelimit-headers-06: the budget, what is left of it, the seconds until
    it is whole again, and the policy (this much per 60 s)."""
    capacity = int(draw.bucket.capacity)
    return {
        "RateLimit-Limit": str(capacity),
        "RateLimit-Remaining": str(math.floor(draw.remaining)),
        "RateLimit-Reset": str(math.ceil(draw.full_in)),
        "RateLimit-Policy": f"{capacity};w={round(capacity / draw.bucket.rate)}",
    }


def build_brakes(settings: Settings, clock: Clock = time.monotonic) -> Brakes:
    """The brakes the settings ask for; `clock` is this host's (in-memory buckets only)."""
    most = settings.websocket_max_connections_per_caller
    buckets: Buckets
    slots: Slots
    if settings.redis_url:
        import redis.asyncio as redis  # only with REDIS_URL

        client = redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        buckets = RedisBuckets(client, clock)
        slots = RedisSlots(client, most, settings.websocket_connection_lease_seconds)
    else:
        buckets, slots = LocalBuckets(clock), LocalSlots(most)
    requests = None
    if settings.rate_limit_per_second > 0:
        requests = Bucket("requests", settings.rate_limit_per_second, settings.rate_limit_burst)
    return Brakes(
        buckets,
        slots,
        requests,
        Bucket.per_minute("cost", settings.rate_limit_cost_per_minute),
        Bucket.per_minute("jwt-key", settings.rate_limit_jwt_per_key_per_minute),
        Bucket.per_minute("jwt-address", settings.rate_limit_jwt_per_address_per_minute),
    )
