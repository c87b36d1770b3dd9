"""`PATCH /api/students/{netid}` (accept a D-plan change as a task) and `GET /api/tasks/{id}`.

Both call the same services as GraphQL's `setDplans` and `task(id)`. The PATCH commits its task
inside the handler, so the row is durable before the 202 leaves."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import reading, transaction
from app.errors import BadRequest
from app.rest.responses import OrjsonResponse
from app.rest.schemas import ErrorOut
from app.services import dplans as dplans_service
from app.services import tasks as tasks_service
from app.services.tasks import RUNNING, TaskRow
from app.state import authenticate, refuse_nul, state_of

router = APIRouter(tags=["tasks"])


class DplanIn(BaseModel):
    dplan_id: str = Field(description="A D-plan code (`R`).")
    dplan_source_id: str = Field(description="A D-plan source (`PHL`).")
    term_code: str = Field(description="A SIS term code (`202301`).")
    dplan_description: str | None = Field(None, description="Ignored.")
    dplan_source_description: str | None = Field(None, description="Ignored.")


class DplansPatchIn(BaseModel):
    dplans: list[DplanIn] = Field(description="One dplan per term; other terms stay as they are.")


def _patch_body_schema() -> dict[str, Any]:
    """The PATCH body's JSON schema with `DplanIn` inlined: pydantic writes it under `$defs` with
    a `#/$defs/...` reference, which resolves against the whole OpenAPI document, where it does
    not exist (client generators and fuzzers then skip the body)."""
    schema = DplansPatchIn.model_json_schema()
    definitions = schema.pop("$defs")
    schema["properties"]["dplans"]["items"] = definitions["DplanIn"]
    schema["additionalProperties"] = False
    return schema


class RequesterOut(BaseModel):
    sub: str
    name: str | None
    email: str | None
    scope: str = Field(description="The token's scopes, joined by commas in the token's order.")
    exp: str | None
    iat: str | None


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


def _utc(value: Any) -> str | None:
    return None if value is None else str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


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


def _json_body(request: Request, raw: bytes) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise StarletteHTTPException(415, "send the body as Content-Type: application/json")
    body = strict_json(raw)
    refuse_nul(body, "body")
    return body


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise BadRequest(f"the body is ambiguous: it gives the key {key!r} more than once")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the body is not valid JSON: {name} is not a JSON number")


def strict_json(raw: bytes) -> Any:
    """The body as JSON, refusing what JSON parsers disagree on: a key given twice in one object
    (`{"dplans": [], "dplans": [...]}`; orjson keeps the last) and NaN/Infinity."""
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("the body nests JSON too deep") from exc


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


PATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted and stored; follow `Location` to the task.",
        "content": {"application/json": {"example": {"status": "accepted"}}},
        "headers": {"Location": {"description": "`/api/tasks/{id}`", "schema": {"type": "string"}}},
    },
    400: _error("The body is not valid JSON."),
    401: _error("No valid bearer token."),
    403: _error("The token lacks write.sensitive or read.sensitive."),
    404: _error("The netid is not valid (or is FERPA-protected and hidden from this token)."),
    415: _error("The body is not `application/json`."),
    422: _error(
        "A dplan is not valid (each problem named: `dplans[1].dplan_source_id`), or the "
        "Idempotency-Key was already used for a different request."
    ),
}


@router.patch(
    "/students/{netid}",
    status_code=202,
    summary="Set a student's D-plans (accepted as a task)",
    responses=PATCH_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _patch_body_schema()}},
        }
    },
)
async def patch_student(
    request: Request,
    netid: str,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description="Repeat a request safely: same key, same task."
    ),
) -> Response:
    """Adds or replaces dplans by term; every other term is left as it is. Every dplan is checked
    now (known `dplan_id`, `dplan_source_id`, SIS `term_code`, one per term); the change itself is
    applied by a worker: poll the task at `Location` until `complete` or `error`.

    Needs `urn:dartmouth:students:write.sensitive` and `urn:dartmouth:students:read.sensitive`
    (and `urn:dartmouth:people:private` for a FERPA-protected student)."""
    principal = await authenticate(request)
    body = _json_body(request, await request.body())
    state = state_of(request)
    async with transaction(state.sessions) as session:
        task = await dplans_service.set_dplans(
            session, principal, netid, body, idempotency_key=idempotency_key
        )
    # Committed: only now is the task announced.
    return OrjsonResponse({"status": "accepted"}, 202, {"Location": f"/api/tasks/{task.id}"})


@router.get(
    "/tasks/{task_id}",
    response_model=TaskOut,
    summary="A task's record",
    responses={
        401: _error("No valid bearer token."),
        404: _error("No such task, or not yours (without urn:dartmouth:tasks:students:write)."),
    },
)
async def get_task(request: Request, task_id: str) -> Response:
    """The task, shaped as the seed samples: visible to its requester (same `sub`) and to holders
    of `urn:dartmouth:tasks:students:write`; anyone else gets the unknown-id 404."""
    principal = await authenticate(request)
    state = state_of(request)
    async with reading(state.sessions) as session:
        row = await tasks_service.visible_task(session, principal, task_id)
    return OrjsonResponse(task_record(row), 200, {"Cache-Control": "no-store"})
