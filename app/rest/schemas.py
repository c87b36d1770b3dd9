"""Response models for OpenAPI, mirroring the seed samples field for field and in order.

The database builds each body (app/repositories/json_reads/rest.py); these models document them
and the tests validate real responses against them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.auth.scopes import STUDENTS_READ
from app.errors import DomainError
from app.rest import error_docs
from app.rest.examples import PLANS_SAMPLE, STUDENT_EXAMPLE, TERMS_SAMPLE

Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="UTC, whole seconds: `2021-01-29T23:07:02Z`.",
        json_schema_extra={"format": "date-time"},
    ),
]
Flag = Annotated[Literal["Y", "N"], Field(description="`Y` or `N`.")]


class LmsTermOut(BaseModel):
    id: str = Field(description="LMS term id (`WI18`).")
    name: str = Field(description="`Winter Term 2018 (A&S)`.")
    is_course_send_enabled: bool
    is_enroll_send_enabled: bool


class QuarterlyTermOut(BaseModel):
    id: str = Field(description="SIS term id `YYYYMM` (01 Winter, 03 Spring, 06 Summer, 09 Fall).")
    name: str = Field(description="`Winter Term 2018`.")
    start_date: Timestamp
    end_date: Timestamp
    current_term_offset: int | None = Field(
        description="Terms between this one and the term current when the request is answered "
        "(negative in the past, 0 now); computed at request time."
    )


class TermDescriptionOut(BaseModel):
    id: str = Field(description="Part-of-term code (`U`).")
    name: str = Field(description="`Undergraduate full term`.")


class StudentTermOut(BaseModel):
    """A term a student holds (`GET /api/students/{netid}/terms`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [TERMS_SAMPLE[0]]})

    netid: str
    term_id: str = Field(description="`201801-U`: quarterly term and part of term.")
    school_id: str | None = Field(description="`UG`.")
    is_active: bool = Field(description="Its quarterly term is the current one (request time).")
    start_date: Timestamp | None
    end_date: Timestamp | None
    lms_term: LmsTermOut | None
    quarterly_term: QuarterlyTermOut
    term_description: TermDescriptionOut | None
    id: str = Field(description="The record's id (24 hex digits).")


class AcademicPlanOut(BaseModel):
    """A declared major or minor plan (`GET /api/academic/plans`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PLANS_SAMPLE[0]]})

    id: str = Field(description="The plan id, a string of digits.")
    type: str = Field(description="`Major`, `Minor`, `Modified`, ...")
    state: str = Field(description="`declared`, ...")
    name: str
    parent_id: int | None = Field(description="The parent plan's id (an integer), or null.")
    updated: Flag
    dropped: Flag
    department: str | None
    student_netid: str
    faculty_netid: str | None
    internal_comment: str | None
    student_rationale: str | None = Field(description="HTML, as entered.")
    denial_reason: str | None
    prerequisites: str | None = Field(description="HTML, as entered.")
    culminating_experience: str | None = Field(description="HTML, as entered.")
    approval_comment: str | None
    student_comments: str | None
    db_name: str | None
    updated_at: Timestamp | None


# Response models are declarations, field by field as the seed samples show them; models
# that look alike (routes_tasks.TaskOut) describe different records.
class DplanOut(BaseModel):
    """A D-plan, keyed as in the PATCH payload."""

    dplan_description: str = Field(description="`Resident`.")
    dplan_source_id: str = Field(description="`PHL`.")
    dplan_id: str = Field(description="`R`.")
    dplan_source_description: str = Field(description="`Registrar Action`.")
    term_code: str = Field(description="SIS term id `YYYYMM`.")


class StudentOut(BaseModel):
    """A student with its D-plans (`GET /api/students/{netid}`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [STUDENT_EXAMPLE]})

    netid: str
    first_name: str
    middle_name: str | None
    last_name: str
    name: str = Field(description="Given, middle and family names.")
    class_year: int | None
    school_code: str | None
    ferpa_protected: bool
    dplans: list[DplanOut]


class ProblemOut(BaseModel):
    loc: str = Field(description="Where: a parameter or body path (`query.pagesize`).")
    message: str


class ErrorOut(BaseModel):
    """Every 4xx (and 5xx) answer from `/api`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": 404, "code": "NOT_FOUND", "message": "Not found.", "problems": []}
            ]
        }
    )

    status: int = Field(description="The HTTP status again.")
    code: str = Field(description="Stable: `BAD_REQUEST`, `UNAUTHENTICATED`, `FORBIDDEN`, ...")
    message: str = Field(description="For a person.")
    problems: list[ProblemOut] = Field(description="Each thing wrong with the request.")


def error(description: str, example: DomainError | dict[str, object]) -> dict[str, Any]:
    """A documented error status of a route: `ErrorOut`, what it means, and `example`, an
    answer of that status the route gives (app/rest/error_docs.py)."""
    return error_docs.documented(ErrorOut, description, example)


UNAUTHENTICATED_DOC = (
    'No valid bearer token (`WWW-Authenticate: Bearer error="invalid_token"`, with '
    '`error_description="expired"` for an expired one).'
)
RATE_LIMITED_DOC = (
    "Past the caller's request rate or cost budget (`RATE_LIMIT_*`): `Retry-After` says "
    "when to retry; `RateLimit-Remaining` on every answer tells the budget left."
)
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` named the current `ETag`; no body."},
    401: error(UNAUTHENTICATED_DOC, error_docs.UNAUTHENTICATED),
    403: error(
        'The token lacks a scope (`WWW-Authenticate: Bearer error="insufficient_scope"`).',
        error_docs.missing_scopes(STUDENTS_READ),
    ),
    429: error(RATE_LIMITED_DOC, error_docs.RATE_LIMITED),
}
COLLECTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    400: error(
        "`continuation_key` unknown or expired, or `page` without it.",
        error_docs.PAGE_WITHOUT_KEY,
    ),
    422: error("A parameter or filter value cannot be used.", error_docs.PAGESIZE_TOO_SMALL),
}


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


CACHE_HEADERS = {
    "Cache-Control": _header("`private, max-age=<the resource's refresh interval>`."),
    "ETag": _header("A hash of the body; send it back in `If-None-Match` to get a 304."),
    "X-Request-ID": _header("This request's id; on a collection, its `continuation_key`."),
}
COLLECTION_HEADERS = {
    **CACHE_HEADERS,
    "X-Total-Count": _header("Rows in the whole found set."),
    "Link": _header('`<...?continuation_key=K&page=N+1&pagesize=P>; rel="next"` if more.'),
    "X-Ignored-Filters": _header("Filter attributes this collection does not know (ignored)."),
    "X-Pagesize-Clamped": _header("Present when `pagesize` was above 1000: the size used."),
}


def ok(description: str, example: Any) -> dict[int | str, dict[str, Any]]:
    """The documented 200: its sample and its headers."""
    headers = COLLECTION_HEADERS if isinstance(example, list) else CACHE_HEADERS
    content = {"application/json": {"example": example}}
    return {200: {"description": description, "content": content, "headers": headers}}


# Every example above, for app/rest/openapi.py to restore verbatim (nulls included).
SAMPLES: list[Any] = [
    PLANS_SAMPLE,
    PLANS_SAMPLE[0],
    TERMS_SAMPLE,
    TERMS_SAMPLE[0],
    STUDENT_EXAMPLE,
]
