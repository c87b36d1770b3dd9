"""WebSocket /graphql: graphql-transport-ws (the `graphql-ws` library's protocol), for
subscriptions and for queries and mutations sent that way, as graphql-ws and Apollo's WebSocket
link send every operation when configured to.

The connection authenticates once, in `connection_init` (`{"Authorization": "Bearer <jwt>"}`,
`{"authorization": ...}`, or Apollo's `{"headers": {"Authorization": ...}}`); each operation then
runs as an HTTP request does (app/graphql/operations.py): its own unit of work and loaders, the
rate limit, the limits and cost, the planner, and its errors translated once and unexpected ones
masked and logged with the operation's id. Strawberry keeps the protocol (messages, ping, close
codes); this module decides what runs."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import orjson
from graphql import OperationType as AstOperationType
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType
from strawberry.utils.aio import aclosing

from app.auth.principal import Principal
from app.errors import DomainError, Unauthenticated
from app.graphql import going_away, operations
from app.graphql.errors import domain_error, format_errors, graphql_error, unexpected_outcome
from app.graphql.operations import Checked, GraphQLDoor, Outcome, Params
from app.graphql.subscriptions import SubscriptionContext
from app.metrics import WEBSOCKETS
from app.state import AppState, log_refusal, principal_of

SUBSCRIPTION = AstOperationType.SUBSCRIPTION
QUERIES_AND_MUTATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
# The legacy subprotocol of subscriptions-transport-ws, unmaintained since 2018 and deprecated by
# Apollo; graphql-transport-ws replaced it (README: "WebSocket operations").
LEGACY_REFUSAL = (
    "the legacy graphql-ws subprotocol (subscriptions-transport-ws) is not served; "
    "use graphql-transport-ws"
)
# Operations one connection may run at once (Strawberry's default); past it, RATE_LIMITED.
OPERATIONS_PER_CONNECTION = 100
NO_SUBPROTOCOL = "ask for the graphql-transport-ws subprotocol (Sec-WebSocket-Protocol)"
# Closed 4429 (graphql-transport-ws's "too many" code, which graphql-ws's client does not retry):
# past WEBSOCKET_MAX_CONNECTIONS_PER_CALLER, counted across processes.
TOO_MANY_CONNECTIONS = "at most {} WebSocket connections per caller are open at once; close one"


class _Refused(Exception):
    """Closes the connection with `code` and a reason a client can show."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def authorization_of(params: dict[str, Any]) -> str | None:
    """The Authorization value of a `connection_init` payload, in any of the shapes clients send
    it: `Authorization`, `authorization`, or under `headers` (Apollo's connectionParams)."""
    headers = params.get("headers")
    for source in (params, headers if isinstance(headers, dict) else {}):
        for key in ("Authorization", "authorization"):
            if key in source:
                value = source[key]
                return value if isinstance(value, str) else ""
    return None


def _expired(principal: Principal, leeway: int) -> bool:
    exp = principal.claims.get("exp")
    return isinstance(exp, int | float) and exp + leeway < time.time()


class _Handler(BaseGraphQLTransportWSHandler[SubscriptionContext, None]):
    """graphql-transport-ws with our authentication and our way of running an operation."""

    view: _View

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.payloads: dict[str, dict[str, Any]] = {}

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:  # the connection's place among its caller's is free again
            if self.context.slot is not None:
                await self.view.state.brakes.slots.give_back(self.context.slot)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except _Refused as exc:  # Strawberry's own rejection would say only "Forbidden"
            await self.websocket.close(code=exc.code, reason=exc.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="the subscribe payload must be an object")
            return
        if message["id"] not in self.operations:
            if self._at_the_limit():
                await _send_errors_to(self, message["id"], [self._limit_error()])
                return  # its payload not kept: refused ones once piled up in `payloads`
            self.payloads[message["id"]] = dict(payload)
        # A persisted query (extensions.persistedQuery) may come without its text.
        payload.setdefault("query", "")
        await super().handle_subscribe(message)

    def _at_the_limit(self) -> bool:
        limit = self.max_subscriptions_per_connection
        return limit is not None and len(self.operations) >= limit

    def _limit_error(self) -> dict[str, Any]:
        message = (
            f"at most {self.max_subscriptions_per_connection} operations run at once on one "
            "connection; wait for one to complete"
        )
        return graphql_error(message, "RATE_LIMITED")

    async def run_operation(self, operation: Operation[SubscriptionContext, None]) -> None:
        request_id = uuid.uuid4().hex
        raw = self.payloads.pop(operation.id, {})
        try:
            await self._run(operation, raw, request_id)
        except _Refused as exc:
            await self.websocket.close(code=exc.code, reason=exc.reason)
        except DomainError as exc:
            await _send_errors(operation, [domain_error(exc)])
        except Exception as exc:
            body, _, _ = unexpected_outcome(exc, request_id)  # masked, logged once with the id
            await _send_errors(operation, orjson.loads(body)["errors"])

    async def _run(
        self, operation: Operation[SubscriptionContext, None], raw: dict[str, Any], request_id: str
    ) -> None:
        state, principal = self.view.state, self.context.principal
        assert principal is not None  # subscribe before connection_ack is refused (4401)
        if _expired(principal, state.settings.jwt_leeway_seconds):
            raise _Refused(4403, "the token has expired; reconnect with a fresh one")
        await self._refuse_if_cut_off()
        await state.brakes.request(principal.sub)
        params = await self.view.door.persisted.params_of(state, raw)
        checked = operations.check(state, self.view.door.costs, params)
        if isinstance(checked, Checked) and checked.operation.operation is SUBSCRIPTION:
            await operations.admit(state, self.view.door, principal, params, checked)
            await self._stream(operation, params, request_id)
            return
        outcome = await operations.run(
            state, self.view.door, principal, params, QUERIES_AND_MUTATIONS, request_id, checked
        )
        await _send_outcome(operation, outcome)

    async def _refuse_if_cut_off(self) -> None:
        """A token of a service account cut off since the connection began closes it (4403) at
        its next operation (app/auth/cutoffs.py), as an expired one does."""
        assert self.context.principal is not None
        try:
            await self.view.state.cutoffs.check(self.context.principal)
        except Unauthenticated as exc:
            log_refusal(exc, "")
            raise _Refused(4403, exc.message) from exc

    async def _stream(
        self, operation: Operation[SubscriptionContext, None], params: Params, request_id: str
    ) -> None:
        """A subscription: each result formatted as an HTTP answer is, then `complete`."""
        suggestions = self.view.state.settings.environment != "production"
        source = await self.schema.stream(
            params.query,
            variable_values=params.variables,
            # The connection's context, with this subscription's id (its disclosure records').
            context_value=replace(self.context, request_id=request_id),
            operation_name=params.operation_name,
        )
        async with aclosing(source):
            async for result in source:
                if not isinstance(result, ExecutionResult):
                    message = "incremental delivery (@defer/@stream) is not served"
                    await _send_errors(operation, [graphql_error(message, "BAD_REQUEST")])
                    return
                found = list(result.errors or [])
                errors = format_errors(found, request_id, suggestions=suggestions)
                if isinstance(result, PreExecutionError):
                    await _send_errors(operation, errors)
                    return
                payload: dict[str, Any] = {"data": result.data}
                if errors:
                    payload["errors"] = errors
                await _send(operation, "next", payload)
        await _send(operation, "complete")


async def _send(
    operation: Operation[SubscriptionContext, None], kind: str, payload: Any = None
) -> None:
    message: Any = {"id": operation.id, "type": kind}
    if payload is not None:
        message["payload"] = payload
    await operation.send_operation_message(message)


async def _send_errors(
    operation: Operation[SubscriptionContext, None], errors: list[dict[str, Any]]
) -> None:
    """graphql-transport-ws `error`: the operation ends without a result."""
    await _send(operation, "error", errors)


async def _send_errors_to(
    handler: BaseGraphQLTransportWSHandler[Any, Any], op: str, errors: list[dict[str, Any]]
) -> None:
    """`error` for an operation refused before it started (so without an `Operation`)."""
    message: Any = {"id": op, "type": "error", "payload": errors}
    await handler.send_message(message)


async def _send_outcome(operation: Operation[SubscriptionContext, None], outcome: Outcome) -> None:
    """An answer with `data` is a `next` then `complete`, its JSON sent as the HTTP door would
    (spliced into the message, not decoded and encoded again); one without (a request error,
    the database unavailable) is an `error`."""
    if not outcome.has_data:
        await _send_errors(operation, orjson.loads(outcome.body)["errors"])
        return
    await _send(operation, "next", orjson.Fragment(outcome.body))
    await _send(operation, "complete")


class _View(GraphQL[SubscriptionContext, None]):
    graphql_transport_ws_handler_class = _Handler

    def __init__(self, state: AppState, door: GraphQLDoor) -> None:
        super().__init__(
            state.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=OPERATIONS_PER_CONNECTION,
        )
        self.state, self.door = state, door

    def decode_json(self, data: str | bytes) -> object:
        """orjson, which refuses what the standard library took and then failed on (a lone
        surrogate, nesting deeper than 1,024: a RecursionError); either closes the connection
        4400, as any message that is not JSON does. A message that is JSON but not an object,
        or whose `id` is not a string, is one without a type (4400 too: `[]`, `null` or an `id`
        of `[]` broke the socket)."""
        message = orjson.loads(data)
        if not isinstance(message, dict) or not isinstance(message.get("id", ""), str):
            return {}  # an id that is not a string broke Strawberry's lookups too
        return message

    def encode_json(self, data: object) -> str:
        """Every message as text (graphql-transport-ws sends no binary frames), by orjson, which
        also splices an answer already encoded (`orjson.Fragment`)."""
        return orjson.dumps(data).decode()

    async def get_context(self, request: Any, response: Any) -> SubscriptionContext:
        return SubscriptionContext(self.state)

    async def on_ws_connect(self, context: SubscriptionContext) -> UnsetType:
        header = authorization_of(context.connection_params or {})
        try:
            context.principal = await principal_of(self.state, header)
        except Unauthenticated as exc:
            log_refusal(exc, "")
            raise _Refused(4403, exc.message) from exc
        except DomainError as exc:  # the cut-offs could not be read (app/auth/cutoffs.py)
            raise _Refused(1013, exc.message) from exc
        context.slot = await self.state.brakes.slots.take(context.principal.sub)
        if context.slot is None:
            most = self.state.settings.websocket_max_connections_per_caller
            raise _Refused(4429, TOO_MANY_CONNECTIONS.format(most))
        return UnsetType()  # the UNSET singleton: a plain `connection_ack`, no payload


class GraphQLWebSocket:
    """The ASGI endpoint for WebSocket /graphql, bound to the running app's state."""

    def __init__(self, door: GraphQLDoor) -> None:
        self.door = door
        self._view: _View | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subprotocols = scope.get("subprotocols", ())
        if GRAPHQL_TRANSPORT_WS_PROTOCOL not in subprotocols:
            websocket = WebSocket(scope, receive, send)
            await websocket.accept()
            legacy = GRAPHQL_WS_PROTOCOL in subprotocols
            await websocket.close(4406, LEGACY_REFUSAL if legacy else NO_SUBPROTOCOL)
            return
        state: AppState = scope["app"].state.studentgraph
        if self._view is None or self._view.state is not state:
            self._view = _View(state, self.door)
        WEBSOCKETS.inc()  # open WebSocket connections (app/metrics.py)
        going_away.OPEN.add(send)  # closed 1001 when the server stops
        try:
            await self._view(scope, receive, send)
        finally:
            going_away.OPEN.discard(send)
            WEBSOCKETS.dec()


def mount(app: Any, door: GraphQLDoor) -> None:
    """Serve WebSocket /graphql (HTTP /graphql is routed by app/graphql/http.py)."""
    app.router.routes.append(WebSocketRoute("/graphql", GraphQLWebSocket(door)))
