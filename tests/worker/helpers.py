"""Shared by the write-path tests: the seed payload, a worker for the test's database, and
waiting for a task to finish."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.rest.examples import DPLANS_PAYLOAD_SAMPLE
from app.worker import Worker

# The seed document's example PATCH payload.
SEED_PAYLOAD: dict[str, Any] = DPLANS_PAYLOAD_SAMPLE


def seed_payload() -> dict[str, Any]:
    return copy.deepcopy(SEED_PAYLOAD)


def dplans_body(*entries: tuple[str, str, str]) -> dict[str, Any]:
    """`("202301", "R", "PHL"), ...` as a PATCH body."""
    return {
        "dplans": [{"term_code": t, "dplan_id": d, "dplan_source_id": s} for t, d, s in entries]
    }


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **overrides: Any) -> AsyncIterator[Worker | None]:
    """A worker for the test's database. On SQLite the app's in-process worker is the one
    claimer, so nothing more is started there (pass `force=True` to start one anyway)."""
    force = overrides.pop("force", False)
    if settings.is_sqlite and not force:
        yield None
        return
    worker_settings = settings.model_copy(update=overrides)
    engine = create_engine(worker_settings)
    worker = Worker(worker_settings, engine, create_sessionmaker(engine))
    stop = asyncio.Event()
    from app import notifications

    async with notifications.listening(engine, (notifications.TASKS_CHANNEL,)):
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await engine.dispose()


async def wait_for_task(
    client: httpx.AsyncClient,
    location: str,
    headers: dict[str, str],
    statuses: tuple[str, ...] = ("complete", "error"),
    seconds: float = 20.0,
) -> dict[str, Any]:
    """Poll GET /api/tasks/{id} (as a REST caller must) until the task reaches `statuses`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        response = await client.get(location, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        assert loop.time() < deadline, f"task still {body['status']}: {body}"
        await asyncio.sleep(0.05)


WRITER_SCOPES = (
    "urn:dartmouth:students:write.sensitive",
    "urn:dartmouth:students:read.sensitive",
)


def writer(sub: str = "f003ghc") -> Any:
    """A Principal that may write D-plans, for calling the service without HTTP."""
    from app.auth import Principal

    return Principal(sub=sub, scopes=frozenset(WRITER_SCOPES), scope_order=WRITER_SCOPES)


async def accept(sessions: Any, netid: str, body: dict[str, Any], **kwargs: Any) -> str:
    """Accept a task through the service (as both doors do) and commit it; its id."""
    from app.db import transaction
    from app.services import dplans as dplans_service

    async with transaction(sessions) as session:
        task = await dplans_service.set_dplans(session, writer(), netid, body, **kwargs)
    return str(task.id)
