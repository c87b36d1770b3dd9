"""Tasks: accepting one durably (idempotently), showing it to whom it belongs, and the decisions
a worker makes about a claimed task (apply, complete, retry or give up). Never commits."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import TASKS_WRITE, Principal
from app.auth.scopes import sees_protected
from app.domain.dplans import KnownIds, term_codes_in, validate_dplans
from app.domain.task_ids import is_task_id, new_task_id
from app.errors import Invalid, NotFound, Problem
from app.repositories import notify
from app.repositories.dplans_write import DplanWriteRepository
from app.repositories.notify import TASK_UPDATES_CHANNEL, TASKS_CHANNEL
from app.repositories.tasks import (
    ACCEPTED,
    COMPLETE,
    ERROR,
    RUNNING,
    TaskRepository,
    TaskRow,
)

__all__ = [
    "ACCEPTED",
    "COMPLETE",
    "ERROR",
    "RUNNING",
    "TASKS_CHANNEL",
    "TASK_UPDATES_CHANNEL",
    "TaskRow",
]
MAX_KEY_LENGTH = 255
BACKOFF_CAP_SECONDS = 300.0


class TaskRejected(Exception):
    """A claimed task can never succeed as asked (the student is gone, a code was retired):
    it ends in `error` at once instead of being retried."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base_seconds: float


def utcnow() -> datetime:
    """Task times are real wall-clock time (ids sort by it), never a frozen demo clock."""
    return datetime.now(UTC)


def _scalar_claim(value: Any) -> str | None:
    return None if value is None else str(value)


def requester_of(principal: Principal) -> dict[str, Any]:
    """Who asked, as task records show it: scopes joined by commas in the token's order."""
    scopes = principal.scope_order or tuple(sorted(principal.scopes))
    return {
        "sub": principal.sub,
        "name": principal.name,
        "email": principal.email,
        "scope": ",".join(scopes),
        "exp": _scalar_claim(principal.claims.get("exp")),
        "iat": _scalar_claim(principal.claims.get("iat")),
    }


def _fingerprint(resource: str, action: str, resource_id: str, payload: Any) -> str:
    body = orjson.dumps([resource, action, resource_id, payload], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def _check_key(key: str | None) -> None:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        problem = Problem("idempotency_key", f"must be 1 to {MAX_KEY_LENGTH} characters")
        raise Invalid("the idempotency key is not valid", [problem])


def _same_request(existing: TaskRow, fingerprint: str) -> TaskRow:
    if existing.request_fingerprint != fingerprint:
        problem = Problem("idempotency_key", "already used for a different request; use a new key")
        raise Invalid("the idempotency key was used for a different request", [problem])
    return existing


async def accept(
    session: AsyncSession,
    principal: Principal,
    *,
    resource: str,
    action: str,
    resource_id: str,
    payload: Any,
    idempotency_key: str | None = None,
) -> TaskRow:
    """Insert a task (status `accepted`); the caller's commit makes it durable. With a key, a
    repeat of the same request returns the first task; a different request with it is Invalid."""
    _check_key(idempotency_key)
    repo = TaskRepository(session)
    fingerprint = _fingerprint(resource, action, resource_id, payload)
    if idempotency_key is not None:
        existing = await repo.by_idempotency_key(principal.sub, idempotency_key)
        if existing is not None:
            return _same_request(existing, fingerprint)
    now = utcnow()
    task_id = new_task_id()
    values = {
        "id": task_id,
        "resource": resource,
        "action": action,
        "resource_id": resource_id,
        "payload": payload,
        "requester": requester_of(principal),
        "requester_sub": principal.sub,
        "status": ACCEPTED,
        "request_date": now,
        "attempts": 0,
        "available_at": now,
        "idempotency_key": idempotency_key,
        "request_fingerprint": fingerprint,
    }
    if await repo.insert(values):
        row = await repo.by_id(task_id)
        assert row is not None
        return row
    # A concurrent request with the same key committed first: answer with its task.
    assert idempotency_key is not None
    winner = await repo.by_idempotency_key(principal.sub, idempotency_key)
    assert winner is not None
    return _same_request(winner, fingerprint)


async def find_task(session: AsyncSession, principal: Principal, task_id: str) -> TaskRow | None:
    """The task, if this caller may see it: its requester, or a holder of tasks:students:write;
    and, when it is about a FERPA-protected student, only with people:private as well, whoever
    asks (DESIGN section 3: the stricter rule wins). Anyone else, and a malformed id, gets None,
    exactly like an unknown id."""
    if not is_task_id(task_id):
        return None
    repo = TaskRepository(session)
    row = await repo.by_id(task_id, include_protected=sees_protected(principal))
    if row is None:
        return None
    if row.requester_sub != principal.sub and TASKS_WRITE not in principal.scopes:
        return None
    return row


async def visible_task(session: AsyncSession, principal: Principal, task_id: str) -> TaskRow:
    row = await find_task(session, principal, task_id)
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return row


# --- what a worker decides about a claimed task ---------------------------------------------


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
    repo = DplanWriteRepository(session)
    found = await repo.reference_ids(term_codes_in(task.payload), netid=task.resource_id)
    if not found["student"]:
        raise TaskRejected(f"student {task.resource_id} no longer exists; nothing was changed")
    known = KnownIds(codes=found["code"], sources=found["source"], terms=found["term"])
    try:
        changes = validate_dplans(task.payload, known)
    except Invalid as exc:
        detail = "; ".join(f"{p.loc}: {p.message}" for p in exc.problems)
        raise TaskRejected(f"the request is no longer valid ({detail}); send a new one") from exc
    rows = [vars(c) for c in changes]
    await repo.upsert_for_task(task.id, task.resource_id, rows, utcnow())


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


# --- hearing about tasks: workers wake on new work, subscribers on status changes -------------

TASK_CHANNELS = (TASKS_CHANNEL, TASK_UPDATES_CHANNEL)


def listening(engine: AsyncEngine, channels: tuple[str, ...] = TASK_CHANNELS) -> Any:
    """While inside, this process hears other processes' task notifications (PostgreSQL)."""
    return notify.listening(engine, channels)


def new_work(engine: AsyncEngine) -> Any:
    """A queue that receives a resource id whenever a task may have become claimable."""
    return notify.hub_for(engine).subscribe(TASKS_CHANNEL)


def task_changes(engine: AsyncEngine) -> Any:
    """A queue that receives `<task id>:<status>` whenever a task changes status."""
    return notify.hub_for(engine).subscribe(TASK_UPDATES_CHANNEL)
