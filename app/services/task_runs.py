"""What a worker decides about claimed tasks: claim a batch, apply it (re-validated against today's
reference data, in a constant number of statements however many tasks and D-plans), complete
it, or record a task's failure (retry after a backoff, or give up). The worker
(app/worker/runner.py) runs these in its own transactions. Never commits."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.disclosures import DPLANS
from app.domain.dplans import DplanChange, KnownIds, term_codes_in, validate_dplans
from app.errors import Invalid
from app.repositories.disclosures import DisclosureRepository
from app.repositories.dplans_write import DplanWriteRepository
from app.repositories.tasks import ACCEPTED, ERROR, TaskRepository, TaskRow
from app.services.changes import Capture
from app.services.dplans import known_ids
from app.services.tasks import utcnow

BACKOFF_CAP_SECONDS = 300.0


class TaskRejected(Exception):
    """A claimed task can never succeed as asked (the student is gone, a code was retired):
    it ends in `error` at once instead of being retried."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base_seconds: float


async def claim(
    session: AsyncSession, owner: str, lease_seconds: float, limit: int = 1
) -> list[TaskRow]:
    """Claim up to `limit` of the oldest claimable tasks for `owner` under a lease."""
    lease = timedelta(seconds=lease_seconds)
    return await TaskRepository(session).claim(owner, utcnow(), lease, limit)


async def take(session: AsyncSession, tasks: Sequence[TaskRow], owner: str) -> list[TaskRow]:
    """Lock claimed tasks for their apply transaction; those whose lease was lost are left out."""
    return await TaskRepository(session).lock_held([t.id for t in tasks], owner)


async def apply(
    session: AsyncSession, tasks: Sequence[TaskRow], *, capture: bool = True
) -> dict[str, TaskRejected]:
    """Write what the tasks ask for, all in one statement; the ones that can no longer succeed
    (re-validated against today's reference data, which may have changed since they were
    accepted) are left out and returned, by task id, with the reason. With `capture`, each
    D-plan the write changed is a change entry (`task <id>`), in this transaction."""
    term_codes = {code for t in tasks for code in term_codes_in(t.payload)}
    known, students = await known_ids(session, term_codes, {t.resource_id for t in tasks})
    rejected: dict[str, TaskRejected] = {}
    writes: list[dict[str, str]] = []
    for task in tasks:
        try:
            writes += [
                {**vars(change), "netid": task.resource_id, "task_id": task.id}
                for change in _changes(task, known, students)
            ]
        except TaskRejected as exc:
            rejected[task.id] = exc
    now = utcnow()
    changes = Capture(session, now, enabled=capture)
    # The task whose write a D-plan ends with: the newest (DplanWriteRepository.upsert).
    writer = {f"{w['netid']}/{w['term_code']}": w["task_id"] for w in sorted(writes, key=_task)}
    before = await changes.before("dplan", writer)
    await DplanWriteRepository(session).upsert(writes, now)
    await changes.after("dplan", writer, before, lambda key: f"task {writer[key]}")
    applied = [t for t in tasks if t.id not in rejected]
    await DisclosureRepository(session).add([_applied_write(t, now) for t in applied])
    await changes.flush()
    return rejected


def _task(write: dict[str, str]) -> str:
    return write["task_id"]


def _applied_write(task: TaskRow, now: datetime) -> dict[str, Any]:
    """An applied write is recorded as its requester's disclosure of the student's D-plans,
    in the apply transaction (so it exists exactly when the write does)."""
    requester: dict[str, Any] = task.requester or {}
    return {
        "at": now,
        "sub": task.requester_sub,
        "netids": [task.resource_id],
        "operation": f"apply {task.action} {task.resource}",
        "record_types": DPLANS,
        "scopes": str(requester.get("scope", "")),
        "request_id": task.id,
    }


def _changes(task: TaskRow, known: KnownIds, students: set[str]) -> list[DplanChange]:
    if (task.resource, task.action) != ("students", "PATCH"):
        raise TaskRejected(f"this worker cannot apply {task.action} {task.resource}")
    if task.resource_id not in students:
        raise TaskRejected(f"student {task.resource_id} no longer exists; nothing was changed")
    try:
        return validate_dplans(task.payload, known)
    except Invalid as exc:
        detail = "; ".join(f"{p.loc}: {p.message}" for p in exc.problems)
        raise TaskRejected(f"the request is no longer valid ({detail}); send a new one") from exc


async def complete(session: AsyncSession, tasks: Sequence[TaskRow], owner: str) -> bool:
    """Mark the tasks complete; False unless `owner` still held every one (then roll back)."""
    done = await TaskRepository(session).complete([t.id for t in tasks], owner, utcnow())
    return done == len(tasks)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _backoff(attempts: int, policy: RetryPolicy) -> float:
    delay = min(BACKOFF_CAP_SECONDS, policy.backoff_base_seconds * 2.0 ** max(0, attempts - 1))
    return delay * (0.8 + 0.4 * random.random())  # noqa: S311 (jitter, not secrecy)


async def fail(
    session: AsyncSession, task: TaskRow, owner: str, exc: BaseException, policy: RetryPolicy
) -> str:
    """Record a failed attempt: back to `accepted` after a backoff, or `error` once rejected or
    out of attempts. Returns the status recorded (or "lost" when the lease was lost)."""
    now = utcnow()
    if isinstance(exc, TaskRejected) or task.attempts >= policy.max_attempts:
        tries = "" if isinstance(exc, TaskRejected) else f" after {task.attempts} attempts"
        message = (
            f"failed{tries}: {_reason(exc)}. The student's D-plans were not changed; "
            "correct the cause and send the request again."
        )
        values: dict[str, Any] = {"status": ERROR, "completed_date": now, "message": message}
    else:
        delay = _backoff(task.attempts, policy)
        message = (
            f"attempt {task.attempts} of {policy.max_attempts} failed: {_reason(exc)}; "
            f"retrying in {delay:.1f}s"
        )
        values = {
            "status": ACCEPTED,
            "available_at": now + timedelta(seconds=delay),
            "message": message,
        }
    done = await TaskRepository(session).finish(task.id, owner, values)
    return str(values["status"]) if done else "lost"


async def next_wake_at(session: AsyncSession) -> datetime | None:
    return await TaskRepository(session).next_wake_at(utcnow())


@dataclass(frozen=True)
class QueueState:
    accepted: int
    running: int
    oldest_accepted_seconds: float  # 0 when none waits


async def queue_state(session: AsyncSession) -> QueueState:
    """The queue now: how many tasks wait, how many are being applied, and how long the oldest
    waiting one has waited."""
    accepted, running, oldest = await TaskRepository(session).queue()
    age = 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
    return QueueState(accepted, running, age)
