"""Transactional notifications: a message is seen only once the transaction that sent it commits.

PostgreSQL does this natively (`pg_notify` is delivered at COMMIT to every listener in every
process). SQLite has nothing like it, but there a single process owns the database, so a message
is held on the session and published to the in-process hub (app/notifications.py) after commit."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, event, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.notifications import CHANGES_CHANNEL, TASK_UPDATES_CHANNEL, TASKS_CHANNEL, hub_for

__all__ = ["CHANGES_CHANNEL", "TASKS_CHANNEL", "TASK_UPDATES_CHANNEL", "notify"]
_PENDING = "studentgraph_pending_notifications"


def _publish_pending(session: Any) -> None:
    pending = session.info.pop(_PENDING, [])
    hub = hub_for(session.get_bind())
    for channel, payload in pending:
        hub.publish(channel, payload)


def _drop_pending(session: Any) -> None:
    session.info.pop(_PENDING, None)


@lru_cache(maxsize=16)
def _pg_notify(count: int) -> TextClause:
    """One statement sending `count` notifications, built once per count."""
    return text("SELECT " + ", ".join(f"pg_notify(:c{i}, :p{i})" for i in range(count)))


async def notify(session: AsyncSession, *messages: tuple[str, str]) -> None:
    """Send each `(channel, payload)` when (and only if) the session's transaction commits."""
    if not messages:
        return
    if session.get_bind().dialect.name == "postgresql":
        params = {
            f"{k}{i}": v for i, m in enumerate(messages) for k, v in zip("cp", m, strict=True)
        }
        await fetch_all(session, _pg_notify(len(messages)), params)
        return
    sync = session.sync_session
    if not event.contains(sync, "after_commit", _publish_pending):
        # Registered once a session; each commit publishes (and each rollback drops) what that
        # transaction sent.
        event.listen(sync, "after_commit", _publish_pending)
        event.listen(sync, "after_rollback", _drop_pending)
    sync.info.setdefault(_PENDING, []).extend(messages)
