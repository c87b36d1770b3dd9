"""`subscription recordsChanged(after:, filter:)`: the change feed pushed as entries commit.

The stream reads the feed after the last position it sent (the same read as GET /api/changes,
so the same order, access rules and disclosure records), sends each entry, and waits for the
next commit: woken by the change notification (PostgreSQL NOTIFY, delivered at commit; the
in-process hub on SQLite), or by a poll every WORKER_POLL_SECONDS, so a lost notification costs
latency, never an entry. It resumes after any position a client passes, so a client that
reconnects with the last position it received misses nothing and receives nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import orjson

from app import notifications
from app.auth.principal import Principal
from app.graphql.types.change import ChangeEntry, ChangeFilter, query_of
from app.services import changes as changes_service
from app.services import disclosures as disclosures_service
from app.services.changes import Query
from app.state import AppState

PAGE = 500  # entries read at a time: a subscriber behind catches up a page per statement


async def _woken(announced: asyncio.Queue[str], within: float) -> None:
    """Until a commit is announced (then any others already queued too) or `within` passes."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(announced.get(), within)
    while not announced.empty():
        announced.get_nowait()


async def watch_changes(
    state: AppState,
    principal: Principal,
    request_id: str,
    after: str | None,
    filter: ChangeFilter | None,
) -> AsyncGenerator[ChangeEntry, None]:
    """Every entry after `after` the caller may see, then each one as it commits."""
    query = query_of(after, filter)
    to = disclosures_service.recipient(
        state.settings, principal, request_id, "subscription recordsChanged"
    )
    poll = state.settings.worker_poll_seconds
    with notifications.record_changes(state.engine) as announced:
        while True:
            page = await changes_service.page(
                state.engine, principal, query, PAGE, now=state.clock.now(), to=to
            )
            for entry in orjson.loads(page.entries):
                yield ChangeEntry.of(entry)
            query = Query(after=page.next_after, kind=query.kind, netid=query.netid)
            if len(page.shown) < PAGE:
                await _woken(announced, poll)
