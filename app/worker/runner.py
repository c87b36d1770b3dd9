"""The worker loop. Each slot claims a batch of tasks (up to WORKER_BATCH_SIZE: under a trickle
one, from a backlog many) under a lease, applies the batch in one transaction together with its
completion, and records failures for a retry with backoff.

Delivery is at least once: a worker killed at any instant leaves either nothing (its transaction
is rolled back) or a finished task. An unfinished claim is taken again once its lease runs out,
and the apply is idempotent (each row remembers the task that wrote it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import notifications, tracing
from app.config import Settings
from app.db import database_cause, is_database_unavailable, transaction
from app.metrics import (
    TASK_APPLY_SECONDS,
    TASK_COMPLETION_SECONDS,
    TASK_RETRIES,
    TASKS,
)
from app.observability import info_line
from app.services import changes as changes_service
from app.services import disclosures as disclosures_service
from app.services import task_runs
from app.services import tasks as tasks_service
from app.services.task_runs import RetryPolicy
from app.services.tasks import ACCEPTED, COMPLETE, ERROR, TaskRow
from app.worker.faults import Faults
from app.worker.webhooks import Deliverer

log = logging.getLogger("app.worker")
RETENTION_INTERVAL_SECONDS = 3600.0


def worker_name() -> str:
    """Unique per process start, so a restarted process never mistakes an old lease for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Runs `concurrency` claim-apply slots until `stop` is set; a slot finishes its task first."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        concurrency: int | None = None,
        name: str | None = None,
        prunes: bool = False,
    ) -> None:
        self.settings = settings
        self.prunes = prunes  # applies the disclosure records' retention (see `_retention`)
        self.engine = engine
        self.sessions = sessions
        # SQLite has one writer; a single claimer there avoids lock contention entirely.
        default = 1 if settings.is_sqlite else settings.worker_concurrency
        self.concurrency = max(1, concurrency or default)
        self.name = name or worker_name()
        self.policy = RetryPolicy(
            settings.worker_max_attempts, settings.worker_backoff_base_seconds
        )
        self.faults = Faults(settings)
        self._idle: list[asyncio.Event] = []  # sleeping slots, longest asleep first
        self._missed = False
        self._database_down = False

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set."""
        with notifications.new_work(self.engine) as announcements:
            relay = asyncio.create_task(self._relay(announcements))
            retention = asyncio.create_task(self._retention(stop))
            helpers = [relay, retention]
            delivering = None
            if self.prunes:  # a worker process (or SQLite's embedded one) delivers webhooks too
                deliverer = Deliverer(self.settings, self.engine, self.sessions, self.name)
                delivering = asyncio.create_task(deliverer.run(stop))
                helpers.append(delivering)
            try:
                slots = [self._slot(f"{self.name}/{i}", stop) for i in range(self.concurrency)]
                await asyncio.gather(*slots)
                if delivering is not None:  # its round in hand finished, its leases given back
                    await asyncio.wait(
                        {delivering}, timeout=self.settings.webhook_timeout_seconds * 3
                    )
            finally:
                for helper in helpers:
                    helper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await helper

    async def _retention(self, stop: asyncio.Event) -> None:
        """Disclosure records past DISCLOSURE_RETENTION_DAYS, tasks finished more than
        TASKS_RETENTION_DAYS ago and change entries past CHANGES_RETENTION_DAYS deleted at
        start and hourly, by `studentgraph worker` processes (not by every API process's
        embedded worker on PostgreSQL; on SQLite the embedded worker is the only one)."""
        if not self.prunes:
            return
        settings = self.settings
        prunes = [
            ("disclosure records", settings.disclosure_retention_days, disclosures_service.prune),
            ("finished tasks", settings.tasks_retention_days, tasks_service.prune),
            ("change entries", settings.changes_retention_days, changes_service.prune),
        ]
        prunes = [p for p in prunes if p[1] > 0]
        while prunes and not stop.is_set():
            for what, days, prune in prunes:
                try:
                    deleted = await prune(self.sessions, datetime.now(UTC), days)
                    if deleted:
                        extra = {"what": what, "count": deleted}
                        log.info("deleted rows past their retention", extra=extra)
                except Exception as exc:  # the next round tries again; tasks go on meanwhile
                    log.warning("could not delete old %s: %s", what, type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETENTION_INTERVAL_SECONDS)

    async def _relay(self, announcements: asyncio.Queue[str]) -> None:
        # One announcement wakes one idle slot, not all of them: a slot that finds work wakes
        # the next (see `_slot`), so a burst fans out without every slot querying every time.
        while True:
            await announcements.get()
            self._wake_one()

    def _wake_one(self) -> None:
        if self._idle:
            self._idle.pop(0).set()
        else:
            self._missed = True  # every slot busy: the next one to go idle looks again first

    async def _slot(self, owner: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                found = await self.run_one(owner)
                self._database_is_back()
                if found:
                    continue
            except Exception as exc:
                # Keep the worker alive and retry at the next wake-up or poll.
                self._slot_failed(owner, exc)
            await self._sleep(stop)

    def _slot_failed(self, owner: str, exc: Exception) -> None:
        """An outage is said once per worker, in one line, however many slots and polls meet it;
        anything else is logged in full."""
        if not is_database_unavailable(exc):
            log.exception("worker slot error", extra={"owner": owner})
        elif not self._database_down:
            self._database_down = True
            log.warning(
                "the database is unavailable; retrying", extra={"error": database_cause(exc)}
            )

    def _database_is_back(self) -> None:
        if self._database_down:
            self._database_down = False
            log.info("the database is back")

    async def run_one(self, owner: str) -> bool:
        """Claim a batch of tasks and process it; False when there was nothing to claim."""
        async with transaction(self.sessions) as session:
            tasks = await task_runs.claim(
                session, owner, self.settings.worker_lease_seconds, self.settings.worker_batch_size
            )
        if not tasks:
            return False
        self._wake_one()  # there may be more: let an idle slot look too
        log.debug(
            "claimed tasks", extra={"tasks": len(tasks), "first": tasks[0].id, "owner": owner}
        )
        fresh = [t for t in tasks if t.attempts == 1]
        TASK_RETRIES.inc(len(tasks) - len(fresh))
        if fresh:
            await self._process(fresh, owner)
        # A task tried before may be what stopped its last worker: it goes alone, so that it
        # cannot use up the attempts of tasks that happened to share its batch.
        for task in tasks:
            if task.attempts > self.policy.max_attempts:
                reason = RuntimeError("its worker stopped before finishing on every attempt")
                await self._record_failure(task, owner, reason, logged=False)
            elif task.attempts > 1:
                await self._process([task], owner)
        return True

    async def _process(self, tasks: list[TaskRow], owner: str) -> None:
        """Apply and complete the tasks in one transaction. If that fails, each is tried alone,
        so one bad task costs only its own attempt."""
        started = time.perf_counter()
        try:
            with tracing.span("task apply", _apply_attributes(tasks, owner)):
                ended = await self._apply(tasks, owner)
        except Exception as exc:
            if is_database_unavailable(exc):
                raise  # not the tasks' fault: their leases run out and they are taken again
            if len(tasks) > 1:
                extra = {"tasks": len(tasks), "error": describe(exc)}
                log.info("batch failed; trying each task alone", extra=extra)
                for task in tasks:
                    await self._process([task], owner)
                return
            extra = {"task_id": tasks[0].id, "attempts": tasks[0].attempts, "error": describe(exc)}
            log.warning("task attempt failed", extra=extra)
            await self._record_failure(tasks[0], owner, exc, logged=True)
            return
        elapsed = time.perf_counter() - started
        TASK_APPLY_SECONDS.observe(elapsed)
        for task, status, why in ended:
            task_ended(task, status, elapsed, why)

    async def _apply(
        self, tasks: list[TaskRow], owner: str
    ) -> list[tuple[TaskRow, str, BaseException | None]]:
        """One transaction: take the tasks (their leases still ours), apply them, complete the
        applied ones and fail the rejected ones; how each ended (status, and why)."""
        async with transaction(self.sessions) as session:
            held = await task_runs.take(session, tasks, owner)
            if len(held) < len(tasks):
                log.warning("lease lost before apply", extra={"tasks": len(tasks) - len(held)})
            rejected = await task_runs.apply(session, held, capture=self.settings.changes_capture)
            await self.faults.during_apply(held)
            applied = [t for t in held if t.id not in rejected]
            if not await task_runs.complete(session, applied, owner):
                raise RuntimeError("lease lost while applying")
            ended: list[tuple[TaskRow, str, BaseException | None]] = [
                (t, COMPLETE, None) for t in applied
            ]
            for task in held:
                if task.id in rejected:
                    reason = rejected[task.id]
                    status = await task_runs.fail(session, task, owner, reason, self.policy)
                    ended.append((task, status, reason))
        return ended

    async def _record_failure(
        self, task: TaskRow, owner: str, exc: BaseException, *, logged: bool
    ) -> None:
        """Record a failed attempt; `logged`: its failure was already said, with the task id."""
        started = time.perf_counter()
        async with transaction(self.sessions) as session:
            status = await task_runs.fail(session, task, owner, exc, self.policy)
        task_ended(task, status, time.perf_counter() - started, None if logged else exc)

    async def _seconds_to_next(self) -> float:
        poll = self.settings.worker_poll_seconds
        async with self.sessions() as session:
            when = await task_runs.next_wake_at(session)
        if when is None:
            return poll
        return min(poll, max(0.01, (when - datetime.now(UTC)).total_seconds() + 0.01))

    async def _sleep(self, stop: asyncio.Event) -> None:
        """Sleep until woken for new work, a retry or lease falls due, a poll, or stop."""
        # Registered as idle before anything awaits: an announcement that arrives while the
        # next wake time is being read must find this slot, or it would be lost until the poll.
        woken = asyncio.Event()
        self._idle.append(woken)
        if self._missed:
            self._missed = False
            woken.set()
        try:
            try:
                timeout = await self._seconds_to_next()
            except Exception:
                timeout = self.settings.worker_poll_seconds
            waiters = [asyncio.ensure_future(woken.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._idle.remove(woken)


def describe(exc: BaseException) -> str:
    """An attempt's failure for the log. A rejected task's reason quotes the request (its
    D-plan values), so only the task's message, which its requester reads, carries it."""
    if isinstance(exc, task_runs.TaskRejected):
        return "rejected: the request can no longer succeed (see the task's message)"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def task_ended(
    task: TaskRow, status: str, elapsed: float, error: BaseException | None = None
) -> None:
    """Count an attempt's outcome; a task's end (complete or error) is its one `task` line,
    which says why it failed unless that was said already (`error` None)."""
    outcome = {ACCEPTED: "retry"}.get(status, status)
    TASKS.labels(outcome).inc()
    if status not in (COMPLETE, ERROR):
        return  # tried again later, here or (a lost lease) by another worker: not its end
    age = (datetime.now(UTC) - task.request_date).total_seconds()
    TASK_COMPLETION_SECONDS.observe(max(0.0, age))
    fields: dict[str, object] = {"task_id": task.id, "status": status, "attempts": task.attempts}
    if error is not None and status == ERROR:
        fields["error"] = describe(error)
    info_line(log, "task", **fields, ms=round(elapsed * 1000, 2), age_ms=round(age * 1000, 1))


def _apply_attributes(tasks: list[TaskRow], owner: str) -> dict[str, object]:
    """What a task apply's span says: which tasks, by whom; never their D-plans."""
    return {
        "studentgraph.task_ids": [t.id for t in tasks],
        "studentgraph.tasks": len(tasks),
        "studentgraph.task.attempt": max(t.attempts for t in tasks),
        "studentgraph.worker": owner,
    }
