"""Test-only fault injection (settings `WORKER_TEST_*`, refused in production), so tests can kill
a worker mid-apply or make attempts fail, against real worker processes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from app.config import Settings
from app.services.tasks import TaskRow


class InjectedFailure(Exception):
    """An attempt failed on purpose (WORKER_TEST_FAILURES)."""


class Faults:
    def __init__(self, settings: Settings) -> None:
        self.delay = settings.worker_test_apply_delay_seconds
        self.failures = settings.worker_test_failures

    async def during_apply(self, tasks: Sequence[TaskRow]) -> None:
        """Called after the writes, before the tasks are marked complete, in the same
        transaction. A batch fails if any of its tasks is to fail (each is then tried alone)."""
        if self.delay:
            await asyncio.sleep(self.delay)
        for task in tasks:
            if task.attempts <= self.failures:
                raise InjectedFailure(
                    f"injected test failure on attempt {task.attempts} "
                    f"(WORKER_TEST_FAILURES={self.failures})"
                )
