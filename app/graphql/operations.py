"""One query or mutation, whichever door brought it (HTTP, or graphql-transport-ws over WebSocket):
checked against the limits and its cost, answered by the planner or executed in a unit of work of
its own, and its errors translated once. Both doors call `run` and differ only in how they send
the `Outcome`."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import orjson
from graphql import GraphQLError, OperationDefinitionNode
from graphql import OperationType as AstOperationType
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from app import tracing
from app.auth.principal import Principal
from app.db import is_database_unavailable, reading, transaction
from app.domain.disclosures import Recipient, operation_name
from app.errors import BadRequest, Invalid
from app.graphql.context import build_context
from app.graphql.costs import Costs
from app.graphql.documents import refuse_large_document
from app.graphql.errors import domain_error, format_errors, graphql_error, unexpected_outcome
from app.graphql.inputs import check_variables
from app.graphql.limits import operation_of
from app.graphql.planner import Planner
from app.graphql.schema import Schema
from app.metrics import GRAPHQL_OPERATIONS, OperationNames
from app.ratelimit import Draw, throttle_status
from app.services import disclosures as disclosures_service
from app.state import AppState, refuse_unstorable

if TYPE_CHECKING:
    from app.graphql.persisted import PersistedDocuments


class _NotAsked(enum.Enum):
    """`run`'s `checked` when the caller has not asked `check` (None is one of its answers)."""

    NOT_ASKED = "not asked"


NOT_ASKED = _NotAsked.NOT_ASKED
_NUL_ESCAPE = re.compile(r"\\u(0000|\{0+\})")


@dataclass(frozen=True)
class Params:
    """What a request asks for: the document's text, its variables and the operation's name."""

    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    persisted: str | None = None  # the id it was persisted under (or sent with)
    register: bool = False  # sent with its hash and not stored yet: store it once it passes


@dataclass(frozen=True)
class Outcome:
    """The answer's JSON body; `status` None means 200 (or, for a request error, whatever the
    door makes of one: GraphQL over HTTP's media type makes it a 400)."""

    body: bytes
    request_error: bool = False
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    failed: bool = True  # any error at all; an answer without one may be cached
    budget: Draw | None = None  # what the operation drew from the caller's budget
    # With a budget, the body's last bytes from its `extensions` entry on (the budget left
    # changes with every request): a cache validator (a persisted GET's ETag) leaves them out.
    extensions_bytes: int = 0

    @property
    def has_data(self) -> bool:
        """Whether the body has a `data` entry: every answer but a request error or one status
        for the whole operation (the database unavailable, a method not allowed)."""
        return not self.request_error and self.status is None


@dataclass(frozen=True)
class Checked:
    """An operation that passed every check before execution, and what it costs."""

    operation: OperationDefinitionNode
    cost: int
    maximum: int
    budget: Draw | None = None  # once admitted: what it drew from the caller's budget

    @property
    def extensions(self) -> dict[str, Any]:
        cost: dict[str, Any] = {"requested": self.cost, "maximum": self.maximum}
        if self.budget is not None:
            cost["throttleStatus"] = throttle_status(self.budget)
        return {"cost": cost}


@dataclass(frozen=True)
class GraphQLDoor:
    """What /graphql holds beside the schema: the planner (or None), the remembered costs and
    the persisted documents."""

    planner: Planner | None
    costs: Costs
    persisted: PersistedDocuments
    operation_names: OperationNames  # the names metrics may name


class _RollBack(Exception):
    """Raised inside the unit of work to undo a mutation that reported errors."""


def read_params(
    raw: dict[str, Any], max_document_bytes: int, *, query_required: bool = True
) -> Params:
    """The request's `query`, `variables` and `operationName`, each checked (a persisted query
    may come without its text); a document past `max_document_bytes` before anything else
    reads it."""
    query, variables, operation = raw.get("query"), raw.get("variables"), raw.get("operationName")
    if query in (None, "") and not query_required:
        query = ""
    elif not isinstance(query, str) or not query.strip():
        raise BadRequest("the request has no `query` string")
    refuse_large_document(query, max_document_bytes)
    if isinstance(variables, str) and variables:
        try:
            variables = orjson.loads(variables)
        except orjson.JSONDecodeError as exc:
            raise BadRequest("`variables` is not valid JSON") from exc
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        raise BadRequest("`operationName` must be a string")
    refuse_unstorable([query, operation], "request")  # the variables: in `check`
    if _NUL_ESCAPE.search(query):  # a GraphQL string literal may spell the NUL as an escape
        raise BadRequest("the query contains a NUL character (\\u0000)")
    return Params(query, variables or None, operation or None)


def request_error(message: str, code: str, **extensions: Any) -> Outcome:
    body = {"errors": [graphql_error(message, code, **extensions)]}
    return Outcome(orjson.dumps(body), request_error=True)


def check(state: AppState, costs: Costs, params: Params) -> Checked | Outcome | None:
    """The operation and its cost; a request error (unparsable, no such operation, variables
    past the input limits, too costly); or None when the document has errors of its own, which
    Strawberry reports."""
    schema: Schema = state.schema  # type: ignore[assignment]
    suggestions = state.settings.environment != "production"
    try:
        document, errors = schema.prepare_document(schema._schema, params.query)
    except GraphQLError as exc:  # unparsable: answered here, or Strawberry would lex it again
        body = {"errors": format_errors([exc], "", suggestions=suggestions)}
        return Outcome(orjson.dumps(body), request_error=True)
    operation = operation_of(document, params.operation_name)
    if errors and operation is None:
        # Strawberry looks for the operation's type before it reports a document's errors, and
        # fails (a 500) when there is none: a lone fragment, an unknown operationName.
        body = {"errors": format_errors(list(errors), "", suggestions=suggestions)}
        return Outcome(orjson.dumps(body), request_error=True)
    if errors:
        return None
    if operation is None:
        message = (
            f"Unknown operation named '{params.operation_name}'."
            if params.operation_name is not None
            else "Must provide operation name if query contains multiple operations."
        )
        return request_error(message, "OPERATION_RESOLUTION_FAILURE")
    try:  # their limits in constant time, then a walk of every value, then graphql-core
        check_variables(schema._schema, operation, params.variables or {})
    except Invalid as exc:
        return Outcome(orjson.dumps({"errors": [domain_error(exc)]}), request_error=True)
    refuse_unstorable(params.variables, "request")
    requested = costs.of(params.query, document, operation, params.variables or {})
    maximum = schema.limits.max_cost
    if requested > maximum:
        message = (
            f"this operation could cost {requested}, more than the maximum of {maximum} "
            "(see extensions.cost); ask for fewer rows (`first`) or fewer nested lists"
        )
        cost = {"requested": requested, "maximum": maximum}
        return request_error(message, "MAX_COST_EXCEEDED", cost=cost)
    return Checked(operation, requested, maximum)


async def run(
    state: AppState,
    door: GraphQLDoor,
    principal: Principal,
    params: Params,
    allowed: frozenset[OperationType],
    request_id: str,
    checked: Checked | Outcome | Literal[_NotAsked.NOT_ASKED] | None = NOT_ASKED,
) -> Outcome:
    """Answer one query or mutation (`checked`: what `check` said, when the caller already
    asked it)."""
    if checked is NOT_ASKED:
        checked = check(state, door.costs, params)
    if isinstance(checked, Outcome):
        return checked
    if checked is not None:
        kind = OperationType(checked.operation.operation.value)
        if kind not in allowed:  # refused before it is counted or its document stored
            return _not_allowed(InvalidOperationTypeError(kind))
        checked = await admit(state, door, principal, params, checked)
    with tracing.span(*_operation_span(checked, params.operation_name, request_id)):
        recipient = _recipient(state, principal, request_id, checked)
        if checked and door.planner and checked.operation.operation is AstOperationType.QUERY:
            data = await door.planner.data(
                state.engine,
                principal,
                params.query,
                params.variables,
                params.operation_name,
                state.clock.now(),
                recipient,
                state.replicas,
            )
            tracing.annotate({"studentgraph.graphql.planned": data is not None})
            if data is not None:
                tail = b',"extensions":' + orjson.dumps(checked.extensions) + b"}"
                body = b'{"data":' + data.encode() + tail
                varying = len(tail) if checked.budget else 0
                return Outcome(body, failed=False, budget=checked.budget, extensions_bytes=varying)
        outcome = await _executed(state, principal, params, allowed, request_id, checked, recipient)
        return replace(outcome, budget=checked.budget if checked else None)


async def admit(
    state: AppState, door: GraphQLDoor, principal: Principal, params: Params, checked: Checked
) -> Checked:
    """What every operation that passed `check` does before it runs, whatever its type and door:
    its cost is drawn from the caller's budget (`RateLimited` past it, before anything else), a
    document sent with its hash is stored, and the operation is counted by name (validated: its
    name is one a client really runs)."""
    budget = await state.brakes.spend(principal.sub, checked.cost)
    if params.register:
        await door.persisted.remember(state, params)
    name = checked.operation.name.value if checked.operation.name else None
    kind = checked.operation.operation.value
    GRAPHQL_OPERATIONS.labels(door.operation_names.label(name), kind).inc()
    return replace(checked, budget=budget)


def _operation_span(checked: Checked | None, name: str | None, request_id: str) -> tuple[str, Any]:
    """The operation's span: `query Student`, as OpenTelemetry names GraphQL spans. Neither the
    document nor the variables are recorded (either may hold a D-plan value)."""
    kind = checked.operation.operation.value if checked else None
    name = name or (checked.operation.name.value if checked and checked.operation.name else None)
    attributes = {
        "graphql.operation.type": kind,
        "graphql.operation.name": name[:100] if name else None,
        "studentgraph.graphql.cost": checked.cost if checked else None,
        tracing.REQUEST_ID: request_id,
    }
    return " ".join(filter(None, (kind or "GraphQL", name))), attributes


def _recipient(
    state: AppState, principal: Principal, request_id: str, checked: Checked | None
) -> Recipient | None:
    """Who this operation discloses to: `query StudentPage`, `mutation (anonymous)`."""
    if checked is None:  # a document with errors: nothing runs, nothing is shown
        return None
    node = checked.operation
    label = operation_name(node.operation.value, node.name.value if node.name else None)
    return disclosures_service.recipient(state.settings, principal, request_id, label)


async def _executed(
    state: AppState,
    principal: Principal,
    params: Params,
    allowed: frozenset[OperationType],
    request_id: str,
    checked: Checked | None,
    recipient: Recipient | None,
) -> Outcome:
    """Through the resolvers and this operation's own loaders, in its own unit of work: a
    mutation commits here, once, before the answer leaves, and rolls back if it reported
    errors; a read needs no BEGIN/COMMIT. What it shows is recorded as disclosed before that."""
    mutation = checked is None or checked.operation.operation is not AstOperationType.QUERY
    unit_of_work = transaction if mutation else reading
    result = None
    try:
        async with unit_of_work(state.sessions) as session:
            context = build_context(
                session, principal, state.settings, state.clock.now(), request_id
            )
            result = await state.schema.execute(
                params.query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
            )
            # Before the answer leaves; a mutation's records commit with it.
            await disclosures_service.record_in(session, recipient, context.disclosed, context.now)
            if result.errors:
                raise _RollBack  # never a partial write: an operation with errors changes nothing
    except _RollBack:
        if mutation and result is not None and result.data is not None:
            # A mutation's records rolled back with it, but what its answer still shows is
            # disclosed: recorded on their own (a read's were committed as they were written).
            await disclosures_service.record(
                state.engine, recipient, context.disclosed, context.now
            )
    except InvalidOperationTypeError as exc:
        return _not_allowed(exc)
    assert result is not None
    outage = next(
        (e for e in result.errors or [] if is_database_unavailable(e.original_error)), None
    )
    if outage is not None:  # one answer for the whole operation: 503, try again
        body, status, headers = unexpected_outcome(outage.original_error or outage, request_id)
        return Outcome(body, status=status, headers=headers)
    # A request error (nothing executed: every error is without a path) has no `data` entry.
    is_request_error = result.data is None and all(e.path is None for e in result.errors or [])
    answer: dict[str, Any] = {} if is_request_error else {"data": result.data}
    if result.errors:
        suggestions = state.settings.environment != "production"
        answer["errors"] = format_errors(list(result.errors), request_id, suggestions=suggestions)
    tail = 0
    if checked and not is_request_error:
        answer["extensions"] = checked.extensions  # the last entry: `,"extensions":{...}}`
        if checked.budget is not None:
            tail = len(b',"extensions":}') + len(orjson.dumps(checked.extensions))
    return Outcome(
        orjson.dumps(answer),
        request_error=is_request_error,
        failed=bool(result.errors),
        extensions_bytes=tail,
    )


def _not_allowed(exc: InvalidOperationTypeError) -> Outcome:
    if exc.operation_type is OperationType.SUBSCRIPTION:
        message = "subscriptions are served over WebSocket (graphql-transport-ws) at /graphql"
        body = {"errors": [graphql_error(message, "BAD_REQUEST")]}
        return Outcome(orjson.dumps(body), status=400)
    # GraphQL over HTTP: GET may only read; a mutation must be POSTed.
    reason = exc.as_http_error_reason("GET")
    body = {"errors": [graphql_error(reason, "METHOD_NOT_ALLOWED")]}
    return Outcome(orjson.dumps(body), status=405, headers={"Allow": "POST"})
