"""Transactional notifications: a message is seen only once the transaction that sent it commits.

PostgreSQL does this natively (`pg_notify` is delivered at COMMIT to every listener in every
process). SQLite has nothing like it, but there a single process owns the database, so a message
is held on the session and published to the in-process hub (app/notifications.py) after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications import TASK_UPDATES_CHANNEL, TASKS_CHANNEL, hub_for

__all__ = ["TASKS_CHANNEL", "TASK_UPDATES_CHANNEL", "notify"]
_PENDING = "studentgraph_pending_notifications"


def _publish_pending(session: Any) -> None:
    pending = session.info.pop(_PENDING, [])
    hub = hub_for(session.get_bind())
    for channel, payload in pending:
        hub.publish(channel, payload)


def _drop_pending(session: Any) -> None:
    session.info.pop(_PENDING, None)


async def notify(session: AsyncSession, *messages: tuple[str, str]) -> None:
    """Send each `(channel, payload)` when (and only if) the session's transaction commits."""
    if not messages:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(*(func.pg_notify(c, p) for c, p in messages)))
        return
    sync = session.sync_session
    if not event.contains(sync, "after_commit", _publish_pending):
        # Registered once a session; each commit publishes (and each rollback drops) what that
        # transaction sent.
        event.listen(sync, "after_commit", _publish_pending)
        event.listen(sync, "after_rollback", _drop_pending)
    sync.info.setdefault(_PENDING, []).extend(messages)
