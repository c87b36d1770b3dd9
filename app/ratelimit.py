"""Per-principal rate limits: a caller (a token's `sub`) gets `RATE_LIMIT_PER_SECOND` requests a
second on average, in bursts of up to `RATE_LIMIT_BURST`; past that, 429 with `Retry-After`.

In one process the buckets live in memory. With `REDIS_URL` set they live in Redis, so every API
process draws from the same bucket: one atomic script per request (a token bucket, refilled by
elapsed time). If Redis cannot be reached the request is let through and the failure logged:
the limit protects the service, and an outage of Redis must not become an outage of the API."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from typing import Any, Protocol

from app.config import Settings
from app.errors import RateLimited

log = logging.getLogger(__name__)
MAX_LOCAL_BUCKETS = 100_000

# KEYS[1] the bucket; ARGV rate, burst, now (s), cost. Returns the seconds to wait (0: allowed).
BUCKET_SCRIPT = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class Limiter(Protocol):
    async def take(self, key: str) -> float:
        """Seconds the caller must wait; 0 when the request may go ahead (and is counted)."""

    async def close(self) -> None: ...


class NoLimit:
    async def take(self, key: str) -> float:
        return 0.0

    async def close(self) -> None:
        return None


class LocalLimiter:
    """Token buckets in this process (the oldest forgotten past MAX_LOCAL_BUCKETS callers)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str) -> float:
        now = time.monotonic()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_LOCAL_BUCKETS:
            self._buckets.popitem(last=False)
        return wait

    async def close(self) -> None:
        return None


class RedisLimiter:
    def __init__(self, url: str, rate: float, burst: int) -> None:
        import redis.asyncio as redis  # only with REDIS_URL

        self.rate, self.burst = rate, burst
        self.client: Any = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.script = self.client.register_script(BUCKET_SCRIPT)

    async def take(self, key: str) -> float:
        try:
            args = [self.rate, self.burst, time.time()]
            return float(await self.script(keys=[f"studentgraph:rate:{key}"], args=args))
        except Exception:  # Redis unreachable: let the request through
            log.warning("rate limit not applied: Redis did not answer", exc_info=True)
            return 0.0

    async def close(self) -> None:
        await self.client.aclose()


def build_limiter(settings: Settings) -> Limiter:
    if settings.rate_limit_per_second <= 0:
        return NoLimit()
    if settings.redis_url:
        return RedisLimiter(
            settings.redis_url, settings.rate_limit_per_second, settings.rate_limit_burst
        )
    return LocalLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


async def check(limiter: Limiter, key: str) -> None:
    wait = await limiter.take(key)
    if wait > 0:
        raise RateLimited(math.ceil(wait))
