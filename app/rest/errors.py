"""REST's edge of the error hierarchy: one JSON shape for every 4xx/5xx.

{"status": 404, "code": "NOT_FOUND", "message": "Not found.", "problems": []}

A 404 never echoes what was asked for: an unknown netid and a FERPA-hidden one must answer with
the same bytes, so the body cannot depend on the netid (or plan id, or task id)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.db import database_cause, is_database_unavailable, is_statement_timeout
from app.errors import DatabaseUnavailable, DomainError, NotFound, StatementTimeout
from app.rest.responses import OrjsonResponse
from app.state import request_id_of

log = logging.getLogger("app")

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "BAD_USER_INPUT",
}
NOT_FOUND_MESSAGE = "Not found."
VALIDATION_MESSAGE = "the request is not valid"


def error_body(
    status: int, code: str, message: str, problems: list[dict[str, str]]
) -> dict[str, object]:
    return {"status": status, "code": code, "message": message, "problems": problems}


def error_response(exc: DomainError) -> Response:
    problems = [p.as_dict() for p in exc.problems]
    message = NOT_FOUND_MESSAGE if isinstance(exc, NotFound) else exc.message
    return OrjsonResponse(
        error_body(exc.http_status, exc.code, message, problems), exc.http_status, exc.headers()
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, DatabaseUnavailable):  # an outage: the operator hears of it, once
        _unavailable(request, exc)
    return error_response(exc)


def _unavailable(request: Request, exc: Exception) -> None:
    cause = database_cause(exc)
    log.warning(
        "database unavailable", extra={"request_id": request_id_of(request), "error": cause}
    )


async def unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: a stopped statement is a 503 `TIMEOUT`; the rest is masked (the details go
    to the log with the request id, the client learns only that it failed)."""
    if is_statement_timeout(exc):
        return error_response(StatementTimeout())
    if is_database_unavailable(exc):
        _unavailable(request, exc)
        return error_response(DatabaseUnavailable())
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"path": request.url.path, "request_id": request_id_of(request)},
    )
    return OrjsonResponse(error_body(500, "INTERNAL", "Unexpected error.", []), 500)


async def validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return OrjsonResponse(error_body(422, "BAD_USER_INPUT", VALIDATION_MESSAGE, problems), 422)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "ERROR")
    message = NOT_FOUND_MESSAGE if exc.status_code == 404 else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request, headers.get("Allow", "")))
    return OrjsonResponse(error_body(exc.status_code, code, message, []), exc.status_code, headers)


def allowed_methods(request: Request, named: str) -> list[str]:
    """Every method some route of the app serves at this path, with those the refusing endpoint
    `named` itself (StaticFiles: GET, HEAD). Starlette names only the first matching route's:
    GET and PATCH of /api/students/{netid} are two routes. Every route counts, documented or not
    (/graphql, /healthz, /docs), walked as FastAPI's OpenAPI walks them (included routers in)."""
    methods = {m.strip().upper() for m in named.split(",") if m.strip()}
    scope = request.scope
    # The path as the app's router saw it (a mount, /docs/static, moves root_path on).
    probe = {
        "type": "http",
        "method": scope["method"],
        "path": scope["path"],
        "root_path": scope.get("app_root_path", scope.get("root_path", "")),
    }
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.matches(probe)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


class TranslatedRoute(APIRoute):
    """A route whose unexpected errors are answered here, in the REST shape and logged once.
    (Starlette's outermost error middleware would answer too, but then re-raise, so the server
    logged every 500 a second time and dropped the keep-alive connection.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except (DomainError, RequestValidationError, StarletteHTTPException):
                raise  # the app's handlers answer these, without re-raising
            except Exception as exc:
                return await unexpected(request, exc)

        return translated
