"""The GraphQL-over-HTTP adapter at /graphql.

Written on FastAPI directly rather than Strawberry's router: authentication must answer 401 before
any GraphQL runs, the unit of work must commit (or roll back a failed mutation) before the answer
leaves, and responses are encoded with orjson. GET serves GraphiQL (development) or runs queries."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from graphql import OperationDefinitionNode
from graphql import OperationType as AstOperationType
from starlette.staticfiles import StaticFiles
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from app.auth.principal import Principal
from app.config import Settings
from app.db import is_database_unavailable, reading, transaction
from app.errors import BadRequest, DatabaseUnavailable, DomainError
from app.graphql.context import build_context
from app.graphql.errors import (
    error_response,
    format_errors,
    graphql_error,
    json_response,
    unexpected_response,
)
from app.graphql.limits import Costs, limits_from, prepared_operation
from app.graphql.planner import Planner
from app.graphql.schema import Schema, build_schema
from app.metrics import GRAPHQL_OPERATIONS, OperationNames
from app.state import AppState, authenticate, refuse_nul, request_id_of

_NUL_ESCAPE = re.compile(r"\\u(0000|\{0+\})")
STATIC = Path(__file__).resolve().parent / "static"
GRAPHQL_CONTENT_TYPE = "application/json"
# GraphQL over HTTP's own media type: with it, a request error (unparsable or invalid document)
# is a 400 instead of a 200, so plain HTTP tooling can tell the two apart.
GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json"


class _RollBack(Exception):
    """Raised inside the unit of work to undo a mutation that reported errors."""


def _read_params(raw: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query, variables, operation = raw.get("query"), raw.get("variables"), raw.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("the request has no `query` string")
    if isinstance(variables, str) and variables:
        try:
            variables = orjson.loads(variables)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("`variables` is not valid JSON") from exc
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        raise BadRequest("`operationName` must be a string")
    refuse_nul([query, variables, operation], "request")
    if _NUL_ESCAPE.search(query):  # a GraphQL string literal may spell the NUL as an escape
        raise BadRequest("the query contains a NUL character (\\u0000)")
    return query, variables or None, operation or None


def _respond(request: Request, body: bytes, request_error: bool = False) -> Response:
    if GRAPHQL_RESPONSE_TYPE in request.headers.get("accept", ""):
        status = 400 if request_error else 200
        return Response(body, status, media_type=GRAPHQL_RESPONSE_TYPE)
    return Response(body, 200, media_type=GRAPHQL_CONTENT_TYPE)


@dataclass(frozen=True)
class _Checked:
    """An operation that passed every check before execution, and what it costs."""

    operation: OperationDefinitionNode
    cost: int
    maximum: int

    @property
    def extensions(self) -> dict[str, Any]:
        return {"cost": {"requested": self.cost, "maximum": self.maximum}}


def _check(
    state: AppState, costs: Costs, params: tuple[str, dict[str, Any] | None, str | None]
) -> _Checked | Response | None:
    """The operation and its cost; a request-error response (no such operation, too costly);
    or None when the document has errors of its own, which Strawberry reports."""
    query, variables, operation_name = params
    schema: Schema = state.schema  # type: ignore[assignment]
    prepared = prepared_operation(schema.prepare_document, schema._schema, query, operation_name)
    if prepared is None:
        return None
    document, operation = prepared
    if operation is None:
        message = (
            f"Unknown operation named '{operation_name}'."
            if operation_name is not None
            else "Must provide operation name if query contains multiple operations."
        )
        return _request_error(message, "OPERATION_RESOLUTION_FAILURE")
    requested = costs.of(query, document, operation, variables or {})
    maximum = schema.limits.max_cost
    if requested > maximum:
        message = (
            f"this operation could cost {requested}, more than the maximum of {maximum} "
            "(see extensions.cost); ask for fewer rows (`first`) or fewer nested lists"
        )
        cost = {"requested": requested, "maximum": maximum}
        return _request_error(message, "MAX_COST_EXCEEDED", cost=cost)
    return _Checked(operation, requested, maximum)


def _request_error(message: str, code: str, **extensions: Any) -> Response:
    return json_response({"errors": [graphql_error(message, code, **extensions)]}, 400)


async def _execute(
    request: Request,
    principal: Principal,
    params: tuple[str, dict[str, Any] | None, str | None],
    allowed: frozenset[OperationType],
    graphql: GraphQLDoor,
) -> Response:
    state: AppState = request.app.state.studentgraph
    query, variables, operation = params
    checked = _check(state, graphql.costs, params)
    if isinstance(checked, Response):
        if GRAPHQL_RESPONSE_TYPE not in request.headers.get("accept", ""):
            checked.status_code = 200  # application/json: every answer is a 200
        return checked
    extensions = checked.extensions if checked else None
    if checked is not None:  # validated: its name is one a client really runs
        name = checked.operation.name.value if checked.operation.name else None
        kind = checked.operation.operation.value
        GRAPHQL_OPERATIONS.labels(graphql.operation_names.label(name), kind).inc()
    if checked and graphql.planner and checked.operation.operation is AstOperationType.QUERY:
        now = state.clock.now()
        data = await graphql.planner.data(state.engine, principal, query, variables, operation, now)
        if data is not None:
            tail = b',"extensions":' + orjson.dumps(extensions) + b"}"
            return _respond(request, b'{"data":' + data.encode() + tail)
    request_id = request_id_of(request)
    result = None
    mutation = checked is None or checked.operation.operation is not AstOperationType.QUERY
    unit_of_work = transaction if mutation else reading  # a read needs no BEGIN/COMMIT
    try:
        async with unit_of_work(state.sessions) as session:
            context = build_context(
                session, principal, state.settings, state.clock.now(), request_id
            )
            result = await state.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation,
                allowed_operation_types=allowed,
            )
            if result.errors:
                raise _RollBack  # never a partial write: an operation with errors changes nothing
    except _RollBack:
        pass
    except InvalidOperationTypeError as exc:
        if exc.operation_type is OperationType.SUBSCRIPTION:
            message = "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql"
            return json_response({"errors": [graphql_error(message, "BAD_REQUEST")]}, 400)
        # GraphQL over HTTP: GET may only read; a mutation must be POSTed.
        reason = exc.as_http_error_reason(request.method)
        return json_response(
            {"errors": [graphql_error(reason, "METHOD_NOT_ALLOWED")]}, 405, {"Allow": "POST"}
        )
    assert result is not None
    outage = next(
        (e for e in result.errors or [] if is_database_unavailable(e.original_error)), None
    )
    if outage is not None:  # one answer for the whole operation: 503, try again
        return unexpected_response(outage.original_error or outage, request_id)
    # A request error (nothing executed: every error is without a path) has no `data` entry.
    request_error = result.data is None and all(e.path is None for e in result.errors or [])
    body: dict[str, Any] = {} if request_error else {"data": result.data}
    if result.errors:
        suggestions = state.settings.environment != "production"
        body["errors"] = format_errors(list(result.errors), request_id, suggestions=suggestions)
    if extensions and not request_error:
        body["extensions"] = extensions
    return _respond(request, orjson.dumps(body), request_error)


@dataclass(frozen=True)
class GraphQLDoor:
    """What /graphql holds beside the schema: the planner (or None), the remembered costs, and
    the operation names that metrics may name."""

    planner: Planner | None
    costs: Costs
    operation_names: OperationNames


def build_planner(settings: Settings) -> Planner | None:
    """With `GRAPHQL_PLANNER` on (the default), queries the planner knows are answered by one
    statement, and everything else by the resolvers."""
    if not settings.graphql_planner:
        return None
    schema = build_schema(limits_from(settings))
    return Planner(schema._schema, schema.prepare_document, settings.page_size_max)


Endpoint = Callable[[Request], Awaitable[Response]]


def _translated(endpoint: Endpoint) -> Endpoint:
    """Errors raised outside execution answered in GraphQL's shape, here at the door (REST's
    handlers answer everything else, app/rest/errors.py)."""

    @functools.wraps(endpoint)
    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except DatabaseUnavailable as exc:
            return unexpected_response(exc, request_id_of(request))  # 503, logged once
        except DomainError as exc:
            return error_response(exc)
        except Exception as exc:
            return unexpected_response(exc, request_id_of(request))

    return answered


def build_door(settings: Settings) -> GraphQLDoor:
    schema = build_schema(limits_from(settings))
    names = OperationNames(
        settings.metrics_graphql_operations, settings.metrics_graphql_operations_max
    )
    return GraphQLDoor(build_planner(settings), Costs(schema._schema), names)


def build_router(graphql: GraphQLDoor) -> APIRouter:
    """POST and GET /graphql."""
    router = APIRouter()

    @router.post("/graphql", include_in_schema=False)
    @_translated
    async def graphql_post(request: Request) -> Response:
        principal = await authenticate(request)
        try:
            raw = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise BadRequest("the body must be a JSON object with a `query`")
        over_http = frozenset({OperationType.QUERY, OperationType.MUTATION})
        return await _execute(request, principal, _read_params(raw), over_http, graphql)

    @router.get("/graphql", include_in_schema=False)
    @_translated
    async def graphql_get(request: Request) -> Response:
        state: AppState = request.app.state.studentgraph
        wants_html = "text/html" in request.headers.get("accept", "")
        if wants_html and state.settings.graphiql_enabled and "query" not in request.query_params:
            return HTMLResponse((STATIC / "graphiql.html").read_text())
        principal = await authenticate(request)
        params = _read_params(dict(request.query_params))
        queries = frozenset({OperationType.QUERY})
        return await _execute(request, principal, params, queries, graphql)

    return router


def mount_static(app: Any) -> None:
    app.mount("/graphql/static", StaticFiles(directory=STATIC), name="graphiql-static")
