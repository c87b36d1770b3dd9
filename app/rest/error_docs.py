"""The error answers `/api` documents: each status with its own example body, built from the
error the route raises (or the exact body its handler writes), so that Swagger and ReDoc show
under 401 what a 401 is, not the 404 of `ErrorOut`'s schema example.
tests/rest/test_error_docs.py provokes each documented answer and compares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.auth import Principal, require_scopes, signing
from app.auth.scopes import known_scopes
from app.errors import (
    BadApiKey,
    BadRequest,
    DomainError,
    Forbidden,
    Invalid,
    NotConfigured,
    NotFound,
    Problem,
    RateLimited,
    Unauthenticated,
)
from app.rest.bodies import MEDIA_TYPE_MESSAGE
from app.rest.errors import NOT_FOUND_MESSAGE, VALIDATION_MESSAGE, error_body
from app.rest.query import page_without_key

Documented = dict[int | str, dict[str, Any]]


def body_of(exc: DomainError) -> dict[str, object]:
    """The body REST answers for `exc` (app/rest/errors.py, error_response)."""
    message = NOT_FOUND_MESSAGE if isinstance(exc, NotFound) else exc.message
    return error_body(exc.http_status, exc.code, message, [p.as_dict() for p in exc.problems])


def documented(
    model: type[BaseModel], description: str, example: DomainError | dict[str, object]
) -> dict[str, Any]:
    """One documented error status: its schema, what it means, and an answer it really gives."""
    body = body_of(example) if isinstance(example, DomainError) else example
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"example": body}},
    }


def missing_scopes(*scopes: str) -> Forbidden:
    """The 403 a token without `scopes` gets (require_scopes says which)."""
    try:
        require_scopes(Principal(sub="example", scopes=frozenset()), *scopes)
    except Forbidden as exc:
        return exc
    raise AssertionError("require_scopes refused nothing")  # pragma: no cover


def _not_a_scope() -> Invalid:
    try:
        known_scopes("bogus", loc="scope")
    except Invalid as exc:
        return exc
    raise AssertionError("bogus is a scope")  # pragma: no cover


UNAUTHENTICATED = Unauthenticated("")
BAD_API_KEY = BadApiKey("")
NOT_FOUND = NotFound(NOT_FOUND_MESSAGE)
RATE_LIMITED = RateLimited(1)
NOT_A_SCOPE = _not_a_scope()
NOT_MINTING = NotConfigured(signing.NOT_MINTING)
PAGE_WITHOUT_KEY = page_without_key()
UNSUPPORTED_MEDIA_TYPE = error_body(415, "UNSUPPORTED_MEDIA_TYPE", MEDIA_TYPE_MESSAGE, [])


def parameter_refused(name: str, message: str) -> dict[str, object]:
    """FastAPI's validation of a query parameter, as app/rest/errors.py (validation_error)
    answers it."""
    problems = [{"loc": f"query.{name}", "message": message}]
    return error_body(422, "BAD_USER_INPUT", VALIDATION_MESSAGE, problems)


PAGESIZE_TOO_SMALL = parameter_refused("pagesize", "Input should be greater than or equal to 1")
NOT_JSON = BadRequest(
    "the body is not valid JSON: Expecting property name enclosed in double quotes: "
    "line 1 column 2 (char 1)"
)
BAD_DPLAN = Invalid(
    "the dplans are not valid", [Problem("dplans[0].dplan_id", "'Q' is not a known D-plan code")]
)
# app/state.py refuses it before any route reads the query string.
NUL_IN_QUERY = BadRequest("the query string contains a NUL character (\\u0000)")
