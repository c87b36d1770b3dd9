"""The GraphQL-over-HTTP adapter at /graphql.

Written on FastAPI directly rather than Strawberry's router: authentication must answer 401 before
any GraphQL runs, the unit of work must commit (or roll back a failed mutation) before the answer
leaves, and responses are encoded with orjson. GET serves GraphiQL (development) or runs queries."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from strawberry.types.graphql import OperationType

from app.auth.principal import Principal
from app.config import Settings
from app.errors import BadRequest, DatabaseUnavailable, DomainError, UnsupportedMediaType
from app.graphql import operations
from app.graphql.costs import Costs
from app.graphql.errors import error_response, unexpected_response
from app.graphql.operations import GraphQLDoor, Outcome
from app.graphql.persisted import PersistedDocuments
from app.graphql.planner import Planner
from app.graphql.schema import schema_for
from app.metrics import OperationNames
from app.ratelimit import budget_headers
from app.state import AppState, add_response_headers, authenticate, request_id_of

STATIC = Path(__file__).resolve().parent / "static"
GRAPHQL_CONTENT_TYPE = "application/json"
# GraphQL over HTTP's own media type: with it, a request error (unparsable or invalid document)
# is a 400 instead of a 200, so plain HTTP tooling can tell the two apart.
GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json"


def _respond(request: Request, outcome: Outcome) -> Response:
    if outcome.status is not None:
        return Response(outcome.body, outcome.status, outcome.headers, GRAPHQL_CONTENT_TYPE)
    if GRAPHQL_RESPONSE_TYPE in request.headers.get("accept", ""):
        status = 400 if outcome.request_error else 200
        return Response(outcome.body, status, media_type=GRAPHQL_RESPONSE_TYPE)
    return Response(outcome.body, 200, media_type=GRAPHQL_CONTENT_TYPE)


async def _execute(
    request: Request,
    principal: Principal,
    raw: dict[str, Any],
    allowed: frozenset[OperationType],
    graphql: GraphQLDoor,
) -> Response:
    state: AppState = request.app.state.studentgraph
    params = await graphql.persisted.params_of(state, raw)
    outcome = await operations.run(
        state, graphql, principal, params, allowed, request_id_of(request)
    )
    if outcome.budget is not None:
        add_response_headers(request, budget_headers(outcome.budget))
    response = _respond(request, outcome)
    if request.method == "GET" and params.persisted is not None and not outcome.failed:
        max_age = state.settings.graphql_get_max_age_seconds
        return _cacheable(request, response, max_age, outcome.extensions_bytes)
    return response


def _cacheable(request: Request, response: Response, max_age: int, extensions: int) -> Response:
    """A persisted read over GET: private (the answer depends on the token), a strong ETag (a
    hash of the body but its last `extensions` bytes, where the budget left changes with every
    request), and 304 when the client already holds that body."""
    etag = '"' + hashlib.sha256(response.body[: -extensions or None]).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"private, max-age={max_age}",
        "Vary": "Authorization",
        "ETag": etag,
    }
    sent = request.headers.get("if-none-match", "")
    held = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    if etag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _json_parameter(raw: dict[str, Any], name: str) -> None:
    """A JSON-valued query-string parameter (`extensions`), decoded in place."""
    if isinstance(raw.get(name), str):
        try:
            raw[name] = orjson.loads(raw[name])
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"`{name}` is not valid JSON") from exc


def build_planner(settings: Settings) -> Planner | None:
    """With `GRAPHQL_PLANNER` on (the default), queries the planner knows are answered by one
    statement, and everything else by the resolvers."""
    if not settings.graphql_planner:
        return None
    schema = schema_for(settings)
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
    schema = schema_for(settings)
    persisted = PersistedDocuments(settings.graphql_persisted_only)
    names = OperationNames(
        settings.metrics_graphql_operations, settings.metrics_graphql_operations_max
    )
    return GraphQLDoor(
        build_planner(settings),
        Costs(schema._schema, settings.disclosure_count_threshold),
        persisted,
        names,
    )


def _require_json(request: Request) -> None:
    """GraphQL over HTTP: a POST says what its body is; ours must be JSON (`application/json`,
    any parameters), and a body without a Content-Type is not guessed at (415)."""
    given = request.headers.get("content-type", "")
    media_type = given.split(";")[0].strip().lower()
    if media_type != "application/json":
        said = f"Content-Type {given!r}" if given else "no Content-Type"
        raise UnsupportedMediaType(
            f"the request has {said}; send the body as Content-Type: application/json"
        )


def build_router(graphql: GraphQLDoor) -> APIRouter:
    """POST and GET /graphql."""
    router = APIRouter()

    @router.post("/graphql", include_in_schema=False)
    @_translated
    async def graphql_post(request: Request) -> Response:
        principal = await authenticate(request)
        _require_json(request)
        try:
            raw = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise BadRequest("the body must be a JSON object with a `query`")
        over_http = frozenset({OperationType.QUERY, OperationType.MUTATION})
        return await _execute(request, principal, raw, over_http, graphql)

    @router.get("/graphql", include_in_schema=False)
    @_translated
    async def graphql_get(request: Request) -> Response:
        state: AppState = request.app.state.studentgraph
        wants_html = "text/html" in request.headers.get("accept", "")
        asks = "query" in request.query_params or "extensions" in request.query_params
        if wants_html and state.settings.graphiql_enabled and not asks:
            return HTMLResponse((STATIC / "graphiql.html").read_text())
        principal = await authenticate(request)
        raw: dict[str, Any] = dict(request.query_params)
        _json_parameter(raw, "extensions")
        queries = frozenset({OperationType.QUERY})
        return await _execute(request, principal, raw, queries, graphql)

    return router


def mount_static(app: Any) -> None:
    app.mount("/graphql/static", StaticFiles(directory=STATIC), name="graphiql-static")
