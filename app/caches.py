"""The one bounded cache every in-process cache is made of (issue 19: a caller choosing what is
cached must not choose how much memory the process holds).

A `BoundedCache` is an LRU bounded twice: by entries, and by an approximate size in bytes that
the caller states for each entry when it puts it (each cache knows what its entries are made of:
app/graphql/documents.py estimates a parsed document from its text and tokens, for one). Past
either bound the least recently used entries are dropped; an entry larger than the whole byte
bound is not kept at all. Each cache's entries and bytes are in /metrics
(`studentgraph_cache_entries{cache=...}`, `studentgraph_cache_bytes{cache=...}`, with their
bounds and evictions), so an operator sees what the bounds hold.

Written here rather than taken from `cachetools`: its LRUCache bounds one total (entries, or a
`getsizeof` of each value), not both, and sizes a value without its key, when the key (a
document's text) is often the larger part. Safe to share between threads (a lock, as
`functools.lru_cache` has), though the app uses each from its event loop."""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeVar

from app.metrics import (
    CACHE_BYTES,
    CACHE_ENTRIES,
    CACHE_EVICTIONS,
    CACHE_MAX_BYTES,
    CACHE_MAX_ENTRIES,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
P = ParamSpec("P")
R = TypeVar("R")

# An entry's bookkeeping beyond its key and value: the OrderedDict's node and the size held.
ENTRY_OVERHEAD = 200
_MISSING: Any = object()
# The instance that reports each name in /metrics: the newest one (a process has one of each;
# tests build several apps in one process).
_REPORTING: dict[str, weakref.ref[BoundedCache[Any, Any]]] = {}


def text_bytes(text: str | bytes) -> int:
    """What a string holds in memory (CPython: 1, 2 or 4 bytes a character, and a header)."""
    return sys.getsizeof(text)


class BoundedCache(Generic[K, V]):
    def __init__(self, name: str, *, max_entries: int, max_bytes: int) -> None:
        self.name = name
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        _REPORTING[name] = weakref.ref(self)
        CACHE_MAX_ENTRIES.labels(name).set(max_entries)
        CACHE_MAX_BYTES.labels(name).set(max_bytes)
        self._report()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """The approximate bytes its entries hold (the sum of the sizes they were put with)."""
        return self._bytes

    def get(self, key: K, default: Any = None) -> Any:
        """The value held for `key` (now the most recently used), or `default`."""
        with self._lock:
            found = self._entries.get(key, _MISSING)
            if found is _MISSING:
                return default
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, size: int) -> V:
        """Hold `value` for `key`, `size` being its approximate bytes (key and value); the
        least recently used entries go until both bounds hold. Putting a key again replaces
        its value and size (an entry that grows says so this way)."""
        size += ENTRY_OVERHEAD
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size <= self.max_bytes:
                self._entries[key] = (value, size)
                self._bytes += size
            evicted = 0
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _key, (_value, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                evicted += 1
            self._report(evicted)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._report()

    def _report(self, evicted: int = 0) -> None:
        reporting = _REPORTING.get(self.name)
        if reporting is None or reporting() is not self:
            return
        CACHE_ENTRIES.labels(self.name).set(len(self._entries))
        CACHE_BYTES.labels(self.name).set(self._bytes)
        if evicted:
            CACHE_EVICTIONS.labels(self.name).inc(evicted)


def memoized(
    cache: BoundedCache[Any, Any], size: Callable[..., int]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`functools.lru_cache` on a `BoundedCache`: the result of each distinct set of
    (positional, hashable) arguments, its size `size(result, *args)`. An exception is not
    remembered."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        def cached(*args: P.args, **kwargs: P.kwargs) -> R:
            assert not kwargs, "memoized functions take positional arguments"
            found = cache.get(args, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[no-any-return]
            result = function(*args, **kwargs)
            cache.put(args, result, size(result, *args))
            return result

        cached.__wrapped__ = function  # type: ignore[attr-defined]
        cached.__doc__ = function.__doc__
        cached.cache = cache  # type: ignore[attr-defined]
        return cached

    return decorate
