"""Task rows: insert (idempotently), read, claim under a lease, and record outcomes.

Every change of status also notifies (`notify`), in the same transaction, so workers and
subscribers hear of it exactly when it becomes true."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db import fetch_all
from app.models import Student, Task
from app.models.base import UtcDateTime
from app.repositories import Record
from app.repositories.notify import TASK_UPDATES_CHANNEL, TASKS_CHANNEL, notify

TaskRow = Record

ACCEPTED, RUNNING, COMPLETE, ERROR = "accepted", "running", "complete", "error"
UNFINISHED = (ACCEPTED, RUNNING)
FINISHED = (COMPLETE, ERROR)

TASK_COLUMNS = (
    Task.id,
    Task.resource,
    Task.action,
    Task.resource_id,
    Task.payload,
    Task.requester,
    Task.requester_sub,
    Task.status,
    Task.request_date,
    Task.completed_date,
    Task.path,
    Task.worker_data,
    Task.message,
    Task.attempts,
    Task.available_at,
    Task.lease_owner,
    Task.lease_expires_at,
    Task.request_fingerprint,
)


def _claimable(now: datetime | ColumnElement[datetime]) -> Any:
    """Due, and no earlier unfinished task for the same resource (per-resource order). The
    leading `status IN` is the partial indexes' predicate: the oldest unfinished tasks are read
    in id order without a sort, and each is checked for an earlier one of its resource, however
    long the queue and the history."""
    earlier = aliased(Task)
    blocked = exists().where(
        earlier.resource_id == Task.resource_id,
        earlier.id < Task.id,
        earlier.status.in_(UNFINISHED),
    )
    due = or_(
        and_(Task.status == ACCEPTED, Task.available_at <= now),
        and_(Task.status == RUNNING, Task.lease_expires_at < now),
    )
    return and_(Task.status.in_(UNFINISHED), due, ~blocked)


def _has_waiting_successor() -> Any:
    """For a RETURNING clause: whether a later unfinished task of the row's resource waits. The
    row's columns are spelled with the table's name: SQLite's compiler writes RETURNING columns
    unqualified, which inside this subquery would name the inner alias's own."""
    later = aliased(Task)
    return exists().where(
        later.resource_id == literal_column(f"{Task.__tablename__}.resource_id"),
        later.id > literal_column(f"{Task.__tablename__}.id"),
        later.status.in_(UNFINISHED),
    )


def status_changes(task_ids: Sequence[str], status: str) -> list[tuple[str, str]]:
    """Task-update notifications for tasks that reached `status` together: one message for up to
    250 of them (`<id>,<id>,...:<status>`, under PostgreSQL's 8,000-byte payload limit)."""
    return [
        (TASK_UPDATES_CHANNEL, ",".join(task_ids[i : i + 250]) + f":{status}")
        for i in range(0, len(task_ids), 250)
    ]


def _about_protected_student() -> ColumnElement[bool]:
    return exists().where(
        Task.resource == "students",
        Student.netid == Task.resource_id,
        Student.ferpa_protected.is_(True),
    )


# Built once (accepting a write runs it on every request); the values come as parameters.
_INSERT = {
    name: insert(cast(Table, Task.__table__))
    .on_conflict_do_nothing(index_elements=["requester_sub", "idempotency_key"])
    .returning(*TASK_COLUMNS)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


_BY_ID = {
    include_protected: select(*TASK_COLUMNS).where(
        Task.id == bindparam("id"), *([] if include_protected else [~_about_protected_student()])
    )
    for include_protected in (True, False)
}
_BY_IDEMPOTENCY_KEY = select(*TASK_COLUMNS).where(
    Task.requester_sub == bindparam("sub"), Task.idempotency_key == bindparam("key")
)


# The worker's statements, built once: a claim runs at every wake-up, and building it (with its
# aliased subquery) cost more than running it.
_HELD = (Task.id.in_(bindparam("ids", expanding=True)), Task.lease_owner == bindparam("owner"))
_CLAIM = (
    update(Task)
    .where(
        Task.id.in_(
            select(Task.id)
            .where(_claimable(bindparam("now", type_=UtcDateTime())))
            .order_by(Task.id)
            .limit(bindparam("limit", type_=Integer()))
            .with_for_update(skip_locked=True, of=Task)
            .scalar_subquery()
        )
    )
    .values(
        status=RUNNING,
        lease_owner=bindparam("owner", type_=String()),
        lease_expires_at=bindparam("until", type_=UtcDateTime()),
        attempts=Task.attempts + 1,
    )
    .returning(*TASK_COLUMNS)
)
_LOCK_HELD = (
    select(*TASK_COLUMNS).where(*_HELD, Task.status == RUNNING).order_by(Task.id).with_for_update()
)
_COMPLETE = (
    update(Task)
    .where(*_HELD, Task.status == RUNNING)
    .values(
        status=COMPLETE,
        completed_date=bindparam("now", type_=UtcDateTime()),
        path=literal("/api/students/") + Task.resource_id,
        message="success",
        lease_expires_at=None,
    )
    .returning(Task.id, Task.resource_id, _has_waiting_successor().label("waiting"))
)
_NEXT_WAKE_AT = select(
    select(func.min(Task.available_at))
    .where(Task.status == ACCEPTED, Task.available_at > bindparam("now"))
    .scalar_subquery(),
    select(func.min(Task.lease_expires_at))
    .where(Task.status == RUNNING, Task.lease_expires_at > bindparam("now"))
    .scalar_subquery(),
)

# The queue as /metrics shows it, read at each scrape from the indexes of unfinished tasks
# (ix_tasks_unfinished in id order, ids being time-ordered; ix_tasks_claimable, led by status),
# never the finished history.
_QUEUE = select(
    select(func.count()).where(Task.status == ACCEPTED).scalar_subquery(),
    select(func.count()).where(Task.status == RUNNING).scalar_subquery(),
    select(Task.request_date)
    .where(Task.status.in_(UNFINISHED), Task.status == ACCEPTED)
    .order_by(Task.id)
    .limit(1)
    .scalar_subquery(),
)


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> TaskRow | None:
        """Insert a new task and return it; None when its (requester, idempotency key) is
        already taken."""
        statement = _INSERT[self.session.get_bind().dialect.name]
        rows = await fetch_all(self.session, statement, values)
        if not rows:
            return None
        await notify(
            self.session,
            (TASKS_CHANNEL, values["resource_id"]),
            *status_changes([values["id"]], ACCEPTED),
        )
        return rows[0]

    async def by_id(self, task_id: str, *, include_protected: bool = True) -> TaskRow | None:
        """The task; with `include_protected=False`, a task about a FERPA-protected student does
        not exist (its `resource_id` is that student's netid), decided inside the one statement."""
        rows = await fetch_all(self.session, _BY_ID[include_protected], {"id": task_id})
        return rows[0] if rows else None

    async def by_idempotency_key(self, requester_sub: str, key: str) -> TaskRow | None:
        params = {"sub": requester_sub, "key": key}
        rows = await fetch_all(self.session, _BY_IDEMPOTENCY_KEY, params)
        return rows[0] if rows else None

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int = 1
    ) -> list[TaskRow]:
        """Take up to `limit` of the oldest claimable tasks under a lease, in one statement, in
        id order. On PostgreSQL the candidates are locked with SKIP LOCKED, so concurrent
        claimers each get others. No two belong to one resource (an unfinished earlier task of
        a resource blocks its later ones)."""
        params = {"now": now, "owner": owner, "until": now + lease, "limit": limit}
        rows = sorted(await fetch_all(self.session, _CLAIM, params), key=lambda r: r.id)
        if rows:
            await notify(self.session, *status_changes([r.id for r in rows], RUNNING))
        return rows

    async def lock_held(self, task_ids: Sequence[str], owner: str) -> list[TaskRow]:
        """Those of the tasks `owner` still holds, row-locked for this transaction, in id order.
        While locked, no other claimer can take them even if the lease runs out (SKIP LOCKED)."""
        return await fetch_all(self.session, _LOCK_HELD, {"ids": list(task_ids), "owner": owner})

    async def complete(self, task_ids: Sequence[str], owner: str, now: datetime) -> int:
        """Mark the tasks `owner` holds complete, in one statement; how many it held. One
        notification says they are; one more, only if a later task of one of their resources is
        waiting, wakes a worker for it."""
        if not task_ids:
            return 0
        params = {"ids": list(task_ids), "owner": owner, "now": now}
        rows = sorted(await fetch_all(self.session, _COMPLETE, params), key=lambda r: r.id)
        waiting = [(TASKS_CHANNEL, r.resource_id) for r in rows if r.waiting][:1]
        await notify(self.session, *status_changes([r.id for r in rows], COMPLETE), *waiting)
        return len(rows)

    async def finish(self, task_id: str, owner: str, values: dict[str, Any]) -> bool:
        """Record an outcome (complete, error, or back to accepted for a retry) if `owner` still
        holds the lease; False when it was lost (the caller then rolls back)."""
        stmt = (
            update(Task)
            .where(Task.id == task_id, Task.lease_owner == owner, Task.status == RUNNING)
            .values(lease_expires_at=None, **values)
            .returning(Task.id, Task.resource_id)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return False
        # Its status changed; and the next task of its resource (or this one, retried later)
        # may now be claimable.
        await notify(
            self.session,
            *status_changes([task_id], values["status"]),
            (TASKS_CHANNEL, row.resource_id),
        )
        return True

    async def next_wake_at(self, now: datetime) -> datetime | None:
        """When a task not claimable now next falls due: a retry's time or a lease's end, in one
        statement. (Tasks waiting for an earlier one of their resource are woken by its end.)"""
        (row,) = await fetch_all(self.session, _NEXT_WAKE_AT, {"now": now})
        known = [t for t in row if t is not None]
        return min(known) if known else None

    async def delete_finished_before(self, before: datetime, *, limit: int) -> int:
        """Delete at most `limit` finished tasks (complete or error) that finished before
        `before`; how many were deleted. Unfinished tasks are never touched."""
        older = (
            select(Task.id)
            .where(Task.status.in_(FINISHED), Task.completed_date < before)
            .limit(limit)
        )
        result = await self.session.execute(delete(Task).where(Task.id.in_(older)))
        return int(getattr(result, "rowcount", 0) or 0)

    async def queue(self) -> tuple[int, int, datetime | None]:
        """Tasks accepted and running now, and when the oldest accepted one was accepted."""
        (row,) = await fetch_all(self.session, _QUEUE, {})
        return int(row[0]), int(row[1]), row[2]
