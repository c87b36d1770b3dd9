"""The one bounded cache (app/caches.py): both bounds hold whatever is put, the least recently
used goes first, an entry that grows is re-counted, and /metrics shows each cache's figures."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from app.caches import ENTRY_OVERHEAD, BoundedCache, memoized


def _gauge(name: str, cache: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"cache": cache})


class TestBoundedCache:
    def test_past_its_entries_the_least_recently_used_goes(self):
        cache: BoundedCache[str, int] = BoundedCache("t_entries", max_entries=2, max_bytes=10**6)
        cache.put("a", 1, 10)
        cache.put("b", 2, 10)
        assert cache.get("a") == 1  # now the most recently used
        cache.put("c", 3, 10)
        assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
        assert len(cache) == 2

    def test_past_its_bytes_entries_go_until_it_fits(self):
        per_entry = 100 + ENTRY_OVERHEAD
        cache: BoundedCache[int, str] = BoundedCache(
            "t_bytes", max_entries=100, max_bytes=3 * per_entry
        )
        for key in range(10):
            cache.put(key, "v", 100)
        assert len(cache) == 3 and cache.bytes == 3 * per_entry
        assert [cache.get(k) for k in (6, 7, 8, 9)] == [None, "v", "v", "v"]

    def test_an_entry_larger_than_the_bound_is_not_kept(self):
        cache: BoundedCache[str, str] = BoundedCache("t_large", max_entries=10, max_bytes=1000)
        cache.put("small", "s", 10)
        cache.put("huge", "h", 10_000)
        assert cache.get("huge") is None and cache.get("small") == "s"
        assert cache.bytes == 10 + ENTRY_OVERHEAD

    def test_putting_a_key_again_recounts_it(self):
        cache: BoundedCache[str, list[int]] = BoundedCache(
            "t_grow", max_entries=10, max_bytes=10**6
        )
        grown = cache.put("op", [1], 100)
        grown.append(2)
        cache.put("op", grown, 5000)
        assert len(cache) == 1 and cache.bytes == 5000 + ENTRY_OVERHEAD

    def test_metrics_show_entries_bytes_bounds_and_evictions(self):
        cache: BoundedCache[int, int] = BoundedCache("t_metrics", max_entries=2, max_bytes=10**6)
        for key in range(5):
            cache.put(key, key, 50)
        assert _gauge("studentgraph_cache_entries", "t_metrics") == 2
        assert _gauge("studentgraph_cache_bytes", "t_metrics") == 2 * (50 + ENTRY_OVERHEAD)
        assert _gauge("studentgraph_cache_max_entries", "t_metrics") == 2
        assert _gauge("studentgraph_cache_max_bytes", "t_metrics") == 10**6
        assert _gauge("studentgraph_cache_evictions_total", "t_metrics") == 3

    def test_memoized_remembers_results_not_exceptions(self):
        cache: BoundedCache[tuple[int, ...], int] = BoundedCache(
            "t_memo", max_entries=10, max_bytes=10**6
        )
        calls: list[int] = []

        @memoized(cache, lambda result, n: 10)
        def square(n: int) -> int:
            calls.append(n)
            if n < 0:
                raise ValueError(n)
            return n * n

        assert [square(3), square(3), square(4)] == [9, 9, 16]
        for _ in range(2):
            with pytest.raises(ValueError):
                square(-1)
        assert calls == [3, 4, -1, -1]
