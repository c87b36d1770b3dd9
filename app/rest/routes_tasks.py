"""`GET /api/tasks/{id}`: a task's record (seed 000), through the same service as GraphQL's
`task(id)`. (The PATCH that accepts a task is a student route: routes_students.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.db import reading
from app.domain.disclosures import TASKS, Disclosed
from app.domain.timestamps import utc_text
from app.rest import error_docs
from app.rest.errors import TranslatedRoute
from app.rest.pages import recipient_of
from app.rest.responses import OrjsonResponse
from app.rest.schemas import RATE_LIMITED_DOC, UNAUTHENTICATED_DOC, error
from app.services import disclosures as disclosures_service
from app.services import tasks as tasks_service
from app.services.tasks import RUNNING, TaskRow
from app.state import authenticate, spend, state_of

router = APIRouter(tags=["tasks"], route_class=TranslatedRoute)


# Response models, field for field the seed sample (as in rest/schemas.py).
class RequesterOut(BaseModel):
    sub: str
    name: str | None
    email: str | None
    scope: str = Field(description="The token's scopes, joined by commas in the token's order.")
    exp: str | None
    iat: str | None


# Declarations, as the response models in app/rest/schemas.py (alike in shape only).
class TaskOut(BaseModel):
    """A task as the seed samples show it, key for key and in order."""

    resource: str = Field(description="`students`.")
    action: str = Field(description="`PATCH`.")
    resource_id: str = Field(description="The netid.")
    payload: dict[str, Any] = Field(description="The request body, as sent.")
    requester: RequesterOut
    status: str = Field(description="`accepted` (also while running), `complete` or `error`.")
    request_date: str
    completed_date: str | None
    path: str | None = Field(description="`/api/students/{netid}` once complete, else null.")
    worker_data: Any
    message: str | None = Field(description="`success`, or what went wrong and what to do.")
    id: str = Field(description="24 lowercase hex characters, in acceptance order.")


def _utc(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def task_record(row: TaskRow) -> dict[str, Any]:
    """The seed's task record. REST has no `running`: a task being applied reads `accepted`."""
    return {
        "resource": row.resource,
        "action": row.action,
        "resource_id": row.resource_id,
        "payload": row.payload,
        "requester": row.requester,
        "status": "accepted" if row.status == RUNNING else row.status,
        "request_date": _utc(row.request_date),
        "completed_date": _utc(row.completed_date),
        "path": row.path,
        "worker_data": row.worker_data,
        "message": row.message,
        "id": row.id,
    }


@router.get(
    "/tasks/{task_id}",
    response_model=TaskOut,
    summary="A task's record",
    responses={
        401: error(UNAUTHENTICATED_DOC, error_docs.UNAUTHENTICATED),
        404: error(
            "No such task, or not yours (without urn:dartmouth:tasks:students:write).",
            error_docs.NOT_FOUND,
        ),
        429: error(RATE_LIMITED_DOC, error_docs.RATE_LIMITED),
    },
)
async def get_task(request: Request, task_id: str) -> Response:
    """The task, shaped as the seed samples: visible to its requester (same `sub`) and to holders
    of `urn:dartmouth:tasks:students:write`; anyone else gets the unknown-id 404."""
    principal = await authenticate(request)
    await spend(request, principal, 1)
    state = state_of(request)
    async with reading(state.sessions) as session:
        row = await tasks_service.visible_task(session, principal, task_id)
        shown = Disclosed.of(row.resource_id, TASKS)
        to, now = recipient_of(request, principal), state.clock.now()
        await disclosures_service.record_in(session, to, shown, now)
    return OrjsonResponse(task_record(row), 200, {"Cache-Control": "no-store"})
