"""The write path's floor: the durable work of accepting a D-plan PATCH and nothing else, on the
same ASGI server (uvicorn) as the project. One transaction: the task's INSERT (the project's
columns and its idempotency conflict clause), its two NOTIFYs (a claimable task for the
workers, the task's status for its followers), COMMIT; then 202 with the task's id. No token,
no scopes, no validation, no lookup of the student, no access log, no metrics: what any server
accepting these tasks durably must at least do.

    FLOOR_DATABASE_URL=postgresql://... uvicorn bench.writes.floor_app:app --port 8722
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain.task_ids import new_task_id
from app.notifications import TASK_UPDATES_CHANNEL, TASKS_CHANNEL

INSERT = """INSERT INTO tasks (id, resource, action, resource_id, payload, requester,
                   requester_sub, status, request_date, attempts, available_at,
                   idempotency_key, request_fingerprint)
            VALUES ($1, 'students', 'PATCH', $2, $3::json, $4::json, 'bench-writes-floor',
                    'accepted', $5, 0, $5, NULL, $6)
            ON CONFLICT (requester_sub, idempotency_key) DO NOTHING RETURNING id"""
NOTIFY = "SELECT pg_notify($1, $2), pg_notify($3, $4)"
REQUESTER = orjson.dumps({"sub": "bench-writes-floor", "scope": "students:write"}).decode()

pool: asyncpg.Pool | None = None


async def patch(request: Request) -> Response:
    assert pool is not None
    netid = request.path_params["netid"]
    body = await request.body()
    payload = orjson.loads(body)  # parsed once, as any server must to store it
    fingerprint = hashlib.sha256(body).hexdigest()
    task_id = new_task_id()
    now = datetime.now(UTC)
    async with pool.acquire() as connection, connection.transaction():
        await connection.fetchval(
            INSERT, task_id, netid, orjson.dumps(payload).decode(), REQUESTER, now, fingerprint
        )
        await connection.fetchval(
            NOTIFY, TASKS_CHANNEL, netid, TASK_UPDATES_CHANNEL, f"{task_id}:accepted"
        )
    return Response(
        orjson.dumps({"task_id": task_id, "status": "accepted"}),
        status_code=202,
        media_type="application/json",
    )


async def alive(_request: Request) -> Response:
    return Response(b"ok")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["FLOOR_DATABASE_URL"], min_size=2, max_size=10)
    yield
    await pool.close()


app = Starlette(
    routes=[Route("/", alive), Route("/api/students/{netid}", patch, methods=["PATCH"])],
    lifespan=lifespan,
)
