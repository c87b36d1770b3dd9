"""Task rows: insert (idempotently), read, claim under a lease, and record outcomes.

Every change of status also notifies (`notify`), in the same transaction, so workers and
subscribers hear of it exactly when it becomes true."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
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
    """Due, and no earlier unfinished task for the same resource (per-resource order)."""
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
    return and_(due, ~blocked)


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
            (TASK_UPDATES_CHANNEL, f"{values['id']}:{ACCEPTED}"),
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

    async def claim(self, owner: str, now: datetime, lease: timedelta) -> TaskRow | None:
        """Take the oldest claimable task under a lease, in one statement. On PostgreSQL the
        candidate row is locked with SKIP LOCKED, so concurrent claimers each get another task."""
        candidate = (
            select(Task.id)
            .where(_claimable(now))
            .order_by(Task.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=Task)
            .scalar_subquery()
        )
        stmt = (
            update(Task)
            .where(Task.id == candidate)
            .values(
                status=RUNNING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=Task.attempts + 1,
            )
            .returning(*TASK_COLUMNS)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is not None:
            await notify(self.session, (TASK_UPDATES_CHANNEL, f"{row.id}:{RUNNING}"))
        return row

    async def lock_if_held(self, task_id: str, owner: str) -> TaskRow | None:
        """The task, row-locked for this transaction, if `owner` still holds its lease. While
        locked, no other claimer can take it even if the lease runs out (SKIP LOCKED)."""
        stmt = (
            select(*TASK_COLUMNS)
            .where(Task.id == task_id, Task.lease_owner == owner, Task.status == RUNNING)
            .with_for_update()
        )
        return (await self.session.execute(stmt)).one_or_none()

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
            (TASK_UPDATES_CHANNEL, f"{task_id}:{values['status']}"),
            (TASKS_CHANNEL, row.resource_id),
        )
        return True

    async def next_wake_at(self, now: datetime) -> datetime | None:
        """When a task not claimable now next falls due: a retry's time or a lease's end.
        (Tasks waiting for an earlier one of their resource are woken by its `finish`.)"""
        retry = select(func.min(Task.available_at)).where(
            Task.status == ACCEPTED, Task.available_at > now
        )
        lease = select(func.min(Task.lease_expires_at)).where(
            Task.status == RUNNING, Task.lease_expires_at > now
        )
        times = [
            (await self.session.execute(retry)).scalar_one_or_none(),
            (await self.session.execute(lease)).scalar_one_or_none(),
        ]
        known = [t for t in times if t is not None]
        return min(known) if known else None
