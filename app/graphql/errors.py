"""GraphQL's edge of the error hierarchy, for HTTP and WebSocket: a stable `extensions.code` for
every error, and nothing unexpected shown to a client (it is logged with the request id)."""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.responses import Response
from strawberry.utils.str_converters import to_camel_case

from app.db import is_database_unavailable, is_statement_timeout
from app.errors import DatabaseUnavailable, DomainError, StatementTimeout
from app.metrics import GRAPHQL_ERRORS

log = logging.getLogger("app.graphql")
MASKED_MESSAGE = "Unexpected error."


def graphql_error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    """One error of an answer (every one is built here, so each is counted here, by code)."""
    GRAPHQL_ERRORS.labels(code).inc()
    return {"message": message, "extensions": {"code": code, **extensions}}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def domain_error(exc: DomainError) -> dict[str, Any]:
    """A domain error as a GraphQL error, its problems (if any) in `extensions.problems`. The
    services name fields as the REST payload spells them (`dplans[0].term_code`); a GraphQL
    caller sent `termCode`, and is told so, in the schema's own conversion."""
    if not exc.problems:
        return graphql_error(exc.message, exc.code, **exc.extensions())
    problems = [{"loc": to_camel_case(p.loc), "message": p.message} for p in exc.problems]
    return graphql_error(exc.message, exc.code, problems=problems, **exc.extensions())


def error_response(exc: DomainError) -> Response:
    """A domain error raised outside execution (authentication, a bad envelope, a body too
    large, a rate limit), with its status and headers."""
    return json_response({"errors": [domain_error(exc)]}, exc.http_status, exc.headers())


def unexpected_outcome(exc: Exception, request_id: str) -> tuple[bytes, int, dict[str, str]]:
    """Anything else met outside a resolver: a stopped statement, the database gone (each logged
    once), or a masked 500 logged with the request id. Body, status and headers, for any door."""
    known: DomainError | None = None
    if is_statement_timeout(exc):
        known = StatementTimeout()
    elif isinstance(exc, DatabaseUnavailable) or is_database_unavailable(exc):
        log.warning("database unavailable", extra={"request_id": request_id})
        known = DatabaseUnavailable()
    if known is not None:
        body = {"errors": [graphql_error(known.message, known.code)]}
        return orjson.dumps(body), known.http_status, known.headers()
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    masked = {"errors": [graphql_error(MASKED_MESSAGE, "INTERNAL_SERVER_ERROR")]}
    return orjson.dumps(masked), 500, {}


def unexpected_response(exc: Exception, request_id: str) -> Response:
    body, status, headers = unexpected_outcome(exc, request_id)
    return Response(body, status, headers, media_type="application/json")


def _located(error: GraphQLError, body: dict[str, Any]) -> dict[str, Any]:
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    return body


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def format_error(
    error: GraphQLError, request_id: str, *, suggestions: bool = True
) -> dict[str, Any]:
    request_error = error.original_error is None or isinstance(error.original_error, GraphQLError)
    if not suggestions and request_error:
        message = _SUGGESTION.sub("", error.message)
        error = GraphQLError(
            message, error.nodes, error.source, error.positions, error.path, error.original_error
        )
    original = error.original_error
    if isinstance(original, DomainError):
        return _located(error, domain_error(original))
    if is_statement_timeout(original):
        timeout = StatementTimeout()
        return _located(error, graphql_error(timeout.message, timeout.code))
    if is_database_unavailable(original):
        unavailable = DatabaseUnavailable()
        return _located(error, graphql_error(unavailable.message, unavailable.code))
    if isinstance(original, GraphQLError):
        # A variable whose value does not fit its type: the client's error, said as graphql-core
        # says it (naming the variable), never masked.
        return _located(error, graphql_error(error.message, "BAD_USER_INPUT"))
    if original is None:
        code = (
            "GRAPHQL_PARSE_FAILED"
            if error.message.startswith("Syntax Error")
            else "GRAPHQL_VALIDATION_FAILED"
        )
        return _located(error, graphql_error(error.message, code))
    log.error(
        "unexpected error in a resolver",
        exc_info=(type(original), original, original.__traceback__),
        extra={"request_id": request_id},
    )
    return _located(error, graphql_error(MASKED_MESSAGE, "INTERNAL_SERVER_ERROR"))


_VARIABLE = re.compile(r"^Variable '\$(\w+)'")


def format_errors(
    errors: list[GraphQLError], request_id: str, *, suggestions: bool = True
) -> list[dict[str, Any]]:
    """Each error once; a variable's many problems (10,000 unknown input fields, say) as its
    first, saying how many more there were (`extensions.more`). Without `suggestions`
    (production), no "Did you mean ...?" tells a prober the names it nearly guessed."""
    out: list[dict[str, Any]] = []
    per_variable: dict[str, dict[str, Any]] = {}
    for error in errors:
        match = _VARIABLE.match(error.message) if error.path is None else None
        first = per_variable.get(match.group(1)) if match else None
        if first is not None:
            first["extensions"]["more"] = first["extensions"].get("more", 0) + 1
            continue
        formatted = format_error(error, request_id, suggestions=suggestions)
        if match is not None:
            per_variable[match.group(1)] = formatted
        out.append(formatted)
    return out
