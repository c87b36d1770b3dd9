"""The prober itself (tests/hostile/stalls.py): quiet requests pass it, and a hold of the event
loop past its bound fails it, so a resource test that uses it can fail."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.hostile.stalls import MAX_STALL_SECONDS, loop_prober


def _hold_the_loop(seconds: float) -> None:
    """CPU work that never yields, as a parser or an encoder on a hostile input does."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


class TestLoopProber:
    async def test_ordinary_requests_pass(self, app, auth):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
            loop_prober(client) as prober,
        ):
            for _ in range(5):
                answer = await client.get("/api/academic/plans", headers=auth())
                assert answer.status_code == 200
        prober.assert_no_stall()
        assert prober.healthz_answers >= 1

    async def test_a_hold_past_the_bound_fails(self, app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
            loop_prober(client) as prober,
        ):
            _hold_the_loop(MAX_STALL_SECONDS * 1.5)
        with pytest.raises(AssertionError, match="the event loop stalled"):
            prober.assert_no_stall()
