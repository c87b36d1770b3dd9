"""Token buckets (a leaky bucket, as Shopify meters its GraphQL API): a bucket holds up to
`capacity`, refills at `rate` a second, and a draw of `cost` goes ahead only if the bucket holds
that much (then takes it); otherwise the caller waits `(cost - held) / rate` seconds.

In one process the buckets live in memory. With `REDIS_URL` set they live in Redis, so every API
process draws from the same bucket: one atomic script per draw, which reads the time from Redis
itself (`TIME`), never from the API host, so hosts whose clocks disagree still share one budget
(with each host's own clock, 50 ms of skew let 2,000 of 2,000 alternating requests through where
about 340 should have passed). If Redis cannot be reached, the draw falls back to this process's
buckets and the failure is logged once: the limit still protects the service (per process), and
an outage of Redis does not become an outage of the API."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# The in-process state is bounded both ways: at most MAX_ENTRIES buckets and MAX_BYTES of them
# (each counted as its key's size plus ENTRY_BYTES, measured with tracemalloc: the state tuple,
# its two floats and the ordered dict's slot; tests/hostile/test_budget.py checks it). The least
# recently used bucket goes first; it is then as good as full anyway (a bucket untouched for
# capacity / rate seconds is full again), so forgetting it lets no one through who would have
# waited, unless a process sees more than MAX_ENTRIES callers within that time.
MAX_ENTRIES = 50_000
MAX_BYTES = 16 * 1024 * 1024
ENTRY_BYTES = 320
MAX_KEY = 128  # a longer key (a forwarded address, say) is kept as its SHA-256

Clock = Callable[[], float]

# KEYS[1] the bucket; ARGV rate, capacity, cost. Returns {1 if allowed else 0, what it holds}.
# The time is Redis's own (TIME: seconds, microseconds), in microseconds, exact in a double.
BUCKET_SCRIPT = """
local rate, capacity, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) / 1000000 * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.0f', now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, string.format('%.17g', tokens)}
"""


@dataclass(frozen=True)
class Bucket:
    """A kind of bucket (one per caller, key or address): its name keys it."""

    name: str
    rate: float  # refilled per second
    capacity: float

    @classmethod
    def per_minute(cls, name: str, amount: float) -> Bucket | None:
        """`amount` a minute, all of it available at once; None (no limit) for 0."""
        return cls(name, amount / 60, amount) if amount > 0 else None


@dataclass(frozen=True)
class Draw:
    bucket: Bucket
    cost: float
    allowed: bool
    remaining: float  # what the bucket holds after the draw

    @property
    def wait(self) -> float:
        """Seconds until `cost` is in the bucket (0: it was taken)."""
        return 0.0 if self.allowed else (self.cost - self.remaining) / self.bucket.rate

    @property
    def full_in(self) -> float:
        """Seconds until the bucket is full again."""
        return max(0.0, self.bucket.capacity - self.remaining) / self.bucket.rate


class Buckets(Protocol):
    async def draw(self, bucket: Bucket, key: str, cost: float) -> Draw:
        """Take `cost` from `key`'s bucket if it holds that much."""

    async def close(self) -> None: ...


def _stored_key(bucket: Bucket, key: str) -> str:
    if len(key) > MAX_KEY:
        key = hashlib.sha256(key.encode(errors="surrogatepass")).hexdigest()
    return f"{bucket.name}:{key}"


class LocalBuckets:
    """Buckets in this process, bounded by MAX_ENTRIES and MAX_BYTES (least recently used out)."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.clock, self.max_entries, self.max_bytes = clock, max_entries, max_bytes
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.bytes = 0  # as counted: each key's size plus ENTRY_BYTES

    def __len__(self) -> int:
        return len(self._state)

    async def draw(self, bucket: Bucket, key: str, cost: float) -> Draw:
        return self.draw_now(bucket, key, cost)

    def draw_now(self, bucket: Bucket, key: str, cost: float) -> Draw:
        stored, now = _stored_key(bucket, key), self.clock()
        held = self._state.pop(stored, None)
        if held is not None:
            self.bytes -= sys.getsizeof(stored) + ENTRY_BYTES
        tokens, at = held or (bucket.capacity, now)
        tokens = min(bucket.capacity, tokens + max(0.0, now - at) * bucket.rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._state[stored] = (tokens, now)
        self.bytes += sys.getsizeof(stored) + ENTRY_BYTES
        while len(self._state) > self.max_entries or self.bytes > self.max_bytes:
            forgotten, _ = self._state.popitem(last=False)
            self.bytes -= sys.getsizeof(forgotten) + ENTRY_BYTES
        return Draw(bucket, cost, allowed, tokens)

    async def close(self) -> None:
        return None


class RedisBuckets:
    """Buckets in Redis, on Redis's clock. `clock` is this host's (its fallback's, and the
    seam the tests skew: nothing shared depends on it)."""

    def __init__(self, client: Any, clock: Clock = time.monotonic) -> None:
        self.client = client
        self.script = self.client.register_script(BUCKET_SCRIPT)
        self.fallback = LocalBuckets(clock)
        self._down = False

    async def draw(self, bucket: Bucket, key: str, cost: float) -> Draw:
        try:
            args = [bucket.rate, bucket.capacity, cost]
            keys = [f"studentgraph:rate:{_stored_key(bucket, key)}"]
            allowed, remaining = await self.script(keys=keys, args=args)
        except Exception:  # Redis unreachable: this process's buckets meanwhile
            if not self._down:
                log.warning("Redis did not answer: rate limits are per process", exc_info=True)
            self._down = True
            return self.fallback.draw_now(bucket, key, cost)
        if self._down:
            log.warning("Redis answers again: rate limits are shared")
            self._down = False
        return Draw(bucket, cost, bool(allowed), float(remaining))

    async def close(self) -> None:
        await self.client.aclose()
