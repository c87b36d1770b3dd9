"""Service accounts cut off (`studentgraph account disable` / `revoke-tokens`): each API process
holds a table of them, refreshed from the database every ACCOUNT_CUTOFF_REFRESH_SECONDS, so a
request checks a dict, not the database, and a cut-off is in force at every process within
two refresh intervals.

The table maps an account's name to the instant (seconds since the epoch) at or before which
its tokens were issued and are refused (`iat` <= it), infinity for a disabled account. It holds
only accounts with a cut-off: rows an operator made, none a caller can add. A table older than
two intervals (the background refresh failing, or the process just started) is refreshed by the
request that finds it so before the token is judged; one that cannot be is a 503 for service
accounts' tokens (the database is the truth, and it cannot be read), never a token let through
unchecked. People's tokens are never looked up, and a process reads the table only once it has
seen a service account's token (first by that request, then every interval)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from app.auth.principal import Principal
from app.db import is_database_unavailable
from app.errors import DatabaseUnavailable, Unauthenticated

log = logging.getLogger("app")

Table = dict[str, float]
STALE_AFTER_INTERVALS = 2


class Cutoffs:
    def __init__(self, refresh_seconds: float, load: Callable[[], Awaitable[Table]]) -> None:
        self.refresh_seconds = refresh_seconds
        self._load = load
        self._table: Table = {}
        self._loaded_at: float | None = None  # time.monotonic() when the last load began
        self._lock = asyncio.Lock()
        self.refreshes = 0  # loads completed (tests wait on it)
        self._failing = False  # logged once per outage, not every round
        # Set by the first service account's token: a process that never sees one never reads.
        self._wanted = asyncio.Event()

    async def check(self, principal: Principal) -> None:
        """`Unauthenticated` for a token of an account cut off when (or after) it was issued."""
        name = principal.account
        if name is None:
            return
        self._wanted.set()
        if self._stale():
            async with self._lock:  # one refresh, whoever else finds the table stale meanwhile
                if self._stale():
                    await self._refresh_for_request()
        cutoff = self._table.get(name)
        if cutoff is None:
            return
        issued = principal.claims.get("iat")
        if not isinstance(issued, int | float) or issued <= cutoff:
            raise Unauthenticated(f"service account {name!r} was cut off after this token")

    def _stale(self) -> bool:
        bound = STALE_AFTER_INTERVALS * self.refresh_seconds
        return self._loaded_at is None or time.monotonic() - self._loaded_at > bound

    async def refresh(self) -> None:
        started = time.monotonic()
        self._table = await self._load()
        self._loaded_at = started  # its age counts from before the read: a bound, not a guess
        self.refreshes += 1

    async def _refresh_for_request(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:
            if is_database_unavailable(exc):
                raise DatabaseUnavailable() from exc
            raise

    async def _keep_fresh(self) -> None:
        await self._wanted.wait()
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                async with self._lock:
                    await self.refresh()
                self._failing = False
            except Exception:  # the next round tries again; requests refresh a stale table
                # INFO: an outage is reported by the requests it fails (503), once each.
                if not self._failing:
                    log.info("could not refresh the service-account cut-offs", exc_info=True)
                self._failing = True

    @contextlib.asynccontextmanager
    async def refreshing(self) -> AsyncIterator[None]:
        """Refresh the table in the background while inside."""
        # A task for the life of the block, stopped as app.notifications.listening stops its
        # listener: five lines of asyncio each, not worth a helper both layers would import.
        task = asyncio.create_task(self._keep_fresh())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
