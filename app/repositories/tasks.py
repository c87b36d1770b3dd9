"""Task rows: insert (idempotently), read, claim under a lease, and record outcomes.

Every change of status also notifies (`notify`), in the same transaction, so workers and
subscribers hear of it exactly when it becomes true."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
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

from app.models import Student, Task
from app.repositories import Record
from app.repositories.notify import TASK_UPDATES_CHANNEL, TASKS_CHANNEL, notify

TaskRow = Record

ACCEPTED, RUNNING, COMPLETE, ERROR = "accepted", "running", "complete", "error"
UNFINISHED = (ACCEPTED, RUNNING)

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


def _claimable(now: datetime) -> Any:
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


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, values: dict[str, Any]) -> bool:
        """Insert a new task; False when its (requester, idempotency key) is already taken."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(Task)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["requester_sub", "idempotency_key"])
            .returning(Task.id)
        )
        inserted = (await self.session.execute(stmt)).scalar_one_or_none()
        if inserted is None:
            return False
        await notify(
            self.session,
            (TASKS_CHANNEL, values["resource_id"]),
            *status_changes([values["id"]], ACCEPTED),
        )
        return True

    async def by_id(self, task_id: str, *, include_protected: bool = True) -> TaskRow | None:
        """The task; with `include_protected=False`, a task about a FERPA-protected student does
        not exist (its `resource_id` is that student's netid), decided inside the one statement."""
        stmt = select(*TASK_COLUMNS).where(Task.id == task_id)
        if not include_protected:
            stmt = stmt.where(~_about_protected_student())
        return (await self.session.execute(stmt)).one_or_none()

    async def by_idempotency_key(self, requester_sub: str, key: str) -> TaskRow | None:
        stmt = select(*TASK_COLUMNS).where(
            Task.requester_sub == requester_sub, Task.idempotency_key == key
        )
        return (await self.session.execute(stmt)).one_or_none()

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int = 1
    ) -> list[TaskRow]:
        """Take up to `limit` of the oldest claimable tasks under a lease, in one statement, in
        id order. On PostgreSQL the candidates are locked with SKIP LOCKED, so concurrent
        claimers each get others. No two belong to one resource (an unfinished earlier task of
        a resource blocks its later ones)."""
        candidates = (
            select(Task.id)
            .where(_claimable(now))
            .order_by(Task.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Task)
        )
        stmt = (
            update(Task)
            .where(Task.id.in_(candidates.scalar_subquery()))
            .values(
                status=RUNNING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=Task.attempts + 1,
            )
            .returning(*TASK_COLUMNS)
        )
        rows = sorted((await self.session.execute(stmt)).all(), key=lambda r: r.id)
        if rows:
            await notify(self.session, *status_changes([r.id for r in rows], RUNNING))
        return rows

    async def lock_held(self, task_ids: Sequence[str], owner: str) -> list[TaskRow]:
        """Those of the tasks `owner` still holds, row-locked for this transaction, in id order.
        While locked, no other claimer can take them even if the lease runs out (SKIP LOCKED)."""
        stmt = (
            select(*TASK_COLUMNS)
            .where(Task.id.in_(list(task_ids)), Task.lease_owner == owner, Task.status == RUNNING)
            .order_by(Task.id)
            .with_for_update()
        )
        return list((await self.session.execute(stmt)).all())

    async def complete(self, task_ids: Sequence[str], owner: str, now: datetime) -> int:
        """Mark the tasks `owner` holds complete, in one statement; how many it held. One
        notification says they are; one more, only if a later task of one of their resources is
        waiting, wakes a worker for it."""
        if not task_ids:
            return 0
        stmt = (
            update(Task)
            .where(Task.id.in_(list(task_ids)), Task.lease_owner == owner, Task.status == RUNNING)
            .values(
                status=COMPLETE,
                completed_date=now,
                path=literal("/api/students/") + Task.resource_id,
                message="success",
                lease_expires_at=None,
            )
            .returning(Task.id, Task.resource_id, _has_waiting_successor().label("waiting"))
        )
        rows = sorted((await self.session.execute(stmt)).all(), key=lambda r: r.id)
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
        retry = select(func.min(Task.available_at)).where(
            Task.status == ACCEPTED, Task.available_at > now
        )
        lease = select(func.min(Task.lease_expires_at)).where(
            Task.status == RUNNING, Task.lease_expires_at > now
        )
        row = (
            await self.session.execute(select(retry.scalar_subquery(), lease.scalar_subquery()))
        ).one()
        known = [t for t in row if t is not None]
        return min(known) if known else None
