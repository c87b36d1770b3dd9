"""GraphQL's edge of the error hierarchy: a stable `extensions.code` for every error, and nothing
unexpected shown to a client (it is logged with the request id instead)."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from app.errors import DomainError

log = logging.getLogger("app.graphql")
MASKED_MESSAGE = "Unexpected error."


def graphql_error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


def _located(error: GraphQLError, body: dict[str, Any]) -> dict[str, Any]:
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    return body


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, DomainError):
        extra: dict[str, Any] = {}
        if original.problems:
            extra["problems"] = [p.as_dict() for p in original.problems]
        return _located(error, graphql_error(original.message, original.code, **extra))
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


def format_errors(errors: list[GraphQLError], request_id: str) -> list[dict[str, Any]]:
    return [format_error(e, request_id) for e in errors]
