"""`GET /api/students/{netid}[/terms|/plans]`: a student, its terms (seed 004), its plans."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from app.auth.scopes import STUDENTS_READ, STUDENTS_WRITE
from app.db import transaction
from app.domain.dplans import check_shape as dplans_shape
from app.domain.dplans import task_cost
from app.rest import error_docs
from app.rest.bodies import json_body, patch_body_schema
from app.rest.errors import TranslatedRoute
from app.rest.examples import PLANS_SAMPLE, STUDENT_EXAMPLE, TERMS_SAMPLE
from app.rest.pages import answer_collection, recipient_of
from app.rest.query import PLAN_ALIASES, ContinuationKey, PageNumber, PageSize
from app.rest.responses import (
    PLANS_MAX_AGE,
    STUDENT_MAX_AGE,
    TERMS_MAX_AGE,
    OrjsonResponse,
    cached_body,
)
from app.rest.schemas import (
    COLLECTION_ERRORS,
    COMMON_ERRORS,
    RATE_LIMITED_DOC,
    UNAUTHENTICATED_DOC,
    AcademicPlanOut,
    StudentOut,
    StudentTermOut,
    error,
    ok,
)
from app.services import compat_reads
from app.services import dplans as dplans_service
from app.services.compat_reads import Collection
from app.state import authenticate, spend, state_of

router = APIRouter(tags=["students"], route_class=TranslatedRoute)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: error(
        "The netid is not valid, or is FERPA-protected and the token lacks "
        "`urn:dartmouth:people:private` (the same answer).",
        error_docs.NOT_FOUND,
    )
}
_PAGING_DOC = """Filters: `attr=value` pairs ANDed, dotted names for nested fields, `=<` / `=>`
value prefixes for inclusive ranges, a trailing `*` for a prefix match; unknown attributes are
ignored and named in `X-Ignored-Filters`. Paging: `pagesize` (default 100, at most 1000),
then `continuation_key` (the first response's `X-Request-ID`) with `page`."""


@router.get(
    "/students/{netid}/terms",
    response_model=list[StudentTermOut],
    summary="A student's academic terms",
    description=f"""The terms the student holds, oldest first; `200 []` when none. `is_active`
and `quarterly_term.current_term_offset` are computed when the request is answered.
Filter e.g. `?quarterly_term.current_term_offset=0`, `?lms_term.id=WI18`,
`?quarterly_term.id==>201801`. {_PAGING_DOC}

Needs `urn:dartmouth:students:read.sensitive` (and `urn:dartmouth:people:private` for a
FERPA-protected student). `Cache-Control: private, max-age=86400` (refreshed every 24 hours).""",
    responses={**ok("The student's terms.", TERMS_SAMPLE), **COLLECTION_ERRORS, **NOT_FOUND},
)
async def get_student_terms(
    request: Request,
    netid: str,
    pagesize: PageSize = None,
    page: PageNumber = None,
    continuation_key: ContinuationKey = None,
) -> Response:
    """A student's terms (see the description)."""
    return await answer_collection(
        request,
        Collection("terms", netid),
        pagesize=pagesize,
        page=page,
        continuation_key=continuation_key,
        max_age=TERMS_MAX_AGE,
    )


@router.get(
    "/students/{netid}/plans",
    response_model=list[AcademicPlanOut],
    summary="A student's academic plans",
    description=f"""The student's declared major and minor plans, in id order; `200 []` when
none. {_PAGING_DOC}

Needs `urn:dartmouth:students:read.sensitive` (and `urn:dartmouth:people:private` for a
FERPA-protected student). `Cache-Control: private, max-age=3600` (refreshed every hour).""",
    responses={**ok("The student's plans.", PLANS_SAMPLE), **COLLECTION_ERRORS, **NOT_FOUND},
)
# Alike the terms route above: FastAPI reads each route's parameters (they are the OpenAPI
# document); what the two share is answer_collection.
async def get_student_plans(
    request: Request,
    netid: str,
    pagesize: PageSize = None,
    page: PageNumber = None,
    continuation_key: ContinuationKey = None,
) -> Response:
    """A student's plans (see the description)."""
    return await answer_collection(
        request,
        Collection("student_plans", netid),
        pagesize=pagesize,
        page=page,
        continuation_key=continuation_key,
        max_age=PLANS_MAX_AGE,
        aliases=PLAN_ALIASES,
    )


@router.get(
    "/students/{netid}",
    response_model=StudentOut,
    summary="A student, with its D-plans",
    responses={**ok("The student.", STUDENT_EXAMPLE), **COMMON_ERRORS, **NOT_FOUND},
)
async def get_student(request: Request, netid: str) -> Response:
    """The student and its D-plans (keyed as in the PATCH payload), in term order.

    Needs `urn:dartmouth:students:read.sensitive` (and `urn:dartmouth:people:private` for a
    FERPA-protected student). `Cache-Control: private, max-age=0`: D-plans change through
    `PATCH /api/students/{netid}`, so callers revalidate each time (`If-None-Match` -> 304)."""
    principal = await authenticate(request)
    await spend(request, principal, 1)
    state = state_of(request)
    to = recipient_of(request, principal)
    body = await compat_reads.student(
        state.engine, principal, netid, state.clock.now(), to, state.replicas
    )
    return cached_body(request, body, max_age=STUDENT_MAX_AGE)


PATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted and stored; follow `Location` to the task.",
        "content": {"application/json": {"example": {"status": "accepted"}}},
        "headers": {"Location": {"description": "`/api/tasks/{id}`", "schema": {"type": "string"}}},
    },
    400: error("The body is not valid JSON.", error_docs.NOT_JSON),
    401: error(UNAUTHENTICATED_DOC, error_docs.UNAUTHENTICATED),
    403: error(
        "The token lacks write.sensitive or read.sensitive.",
        error_docs.missing_scopes(STUDENTS_WRITE, STUDENTS_READ),
    ),
    404: NOT_FOUND[404],
    415: error("The body is not `application/json`.", error_docs.UNSUPPORTED_MEDIA_TYPE),
    422: error(
        "A dplan is not valid (each problem named: `dplans[1].dplan_source_id`), or the "
        "Idempotency-Key was already used for a different request.",
        error_docs.BAD_DPLAN,
    ),
    429: error(RATE_LIMITED_DOC, error_docs.RATE_LIMITED),
}


@router.patch(
    "/students/{netid}",
    status_code=202,
    summary="Set a student's D-plans (accepted as a task)",
    responses=PATCH_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": patch_body_schema()}},
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
    body = json_body(request, await request.body(), dplans_shape)
    await spend(request, principal, task_cost(body["dplans"]))
    state = state_of(request)
    async with transaction(state.sessions) as session:
        task = await dplans_service.set_dplans(
            session, principal, netid, body, idempotency_key=idempotency_key
        )
    # Committed: only now is the task announced.
    return OrjsonResponse({"status": "accepted"}, 202, {"Location": f"/api/tasks/{task.id}"})
