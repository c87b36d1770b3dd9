"""What a worker decides about a claimed task: claim it, apply it (re-validated against today's
reference data), complete it, or record a failure (retry after a backoff, or give up). The
worker (app/worker/runner.py) runs these in its own transactions. Never commits."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.dplans import validate_dplans
from app.errors import Invalid
from app.repositories.dplans_write import DplanWriteRepository
from app.repositories.tasks import ACCEPTED, COMPLETE, ERROR, TaskRepository, TaskRow
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


async def claim(session: AsyncSession, owner: str, lease_seconds: float) -> TaskRow | None:
    """Claim the oldest claimable task for `owner` under a lease."""
    return await TaskRepository(session).claim(owner, utcnow(), timedelta(seconds=lease_seconds))


async def take(session: AsyncSession, task: TaskRow, owner: str) -> TaskRow | None:
    """Lock a claimed task for its apply transaction; None when the lease was lost."""
    return await TaskRepository(session).lock_if_held(task.id, owner)


async def apply(session: AsyncSession, task: TaskRow) -> None:
    """Write what the task asks for. Re-validates against today's reference data, since it may
    have changed since the task was accepted; a task that can no longer succeed is rejected."""
    if (task.resource, task.action) != ("students", "PATCH"):
        raise TaskRejected(f"this worker cannot apply {task.action} {task.resource}")
    known, student_exists = await known_ids(session, task.payload, netid=task.resource_id)
    if not student_exists:
        raise TaskRejected(f"student {task.resource_id} no longer exists; nothing was changed")
    try:
        changes = validate_dplans(task.payload, known)
    except Invalid as exc:
        detail = "; ".join(f"{p.loc}: {p.message}" for p in exc.problems)
        raise TaskRejected(f"the request is no longer valid ({detail}); send a new one") from exc
    rows = [vars(c) for c in changes]
    await DplanWriteRepository(session).upsert_for_task(task.id, task.resource_id, rows, utcnow())


async def complete(session: AsyncSession, task: TaskRow, owner: str) -> bool:
    values = {
        "status": COMPLETE,
        "completed_date": utcnow(),
        "path": f"/api/students/{task.resource_id}",
        "message": "success",
    }
    return await TaskRepository(session).finish(task.id, owner, values)


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
