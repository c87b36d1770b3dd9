"""Tasks as the doors see them: accepting one durably (idempotently) and showing it to whom it
belongs. (What a worker decides about a claimed task: app/services/task_runs.py.) Never commits."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import TASKS_WRITE, Principal
from app.auth.scopes import sees_protected
from app.domain.task_ids import is_task_id, new_task_id
from app.errors import Invalid, NotFound, Problem
from app.repositories.tasks import (
    ACCEPTED,
    COMPLETE,
    ERROR,
    RUNNING,
    TaskRepository,
    TaskRow,
)
from app.services import retention
from app.services.retention import PRUNE_BATCH

__all__ = ["ACCEPTED", "COMPLETE", "ERROR", "RUNNING", "TaskRow"]
MAX_KEY_LENGTH = 255


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
    row = await repo.insert(values)
    if row is not None:
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


# Alike app.services.disclosures.prune (see there): one shared loop, each its own delete.
async def prune(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    retention_days: int,
    *,
    batch: int = PRUNE_BATCH,
) -> int:
    """Delete tasks that finished (complete or error) more than `retention_days` ago (none when
    it is 0: kept forever), `batch` per transaction (app.services.retention). An unfinished
    task is never deleted, however old."""

    async def delete(session: AsyncSession, before: datetime, limit: int) -> int:
        return await TaskRepository(session).delete_finished_before(before, limit=limit)

    return await retention.prune(sessions, now, retention_days, delete, batch)
