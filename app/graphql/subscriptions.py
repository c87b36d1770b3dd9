"""`subscription taskUpdated(taskId)` over graphql-transport-ws at /graphql (WebSocket only; HTTP
stays with app/graphql/http.py). The token comes in the `connection_init` payload:
`{"Authorization": "Bearer <jwt>"}`."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from app import notifications
from app.auth.principal import Principal
from app.auth.tokens import bearer_token, verify
from app.db import reading
from app.errors import BadRequest, DomainError, NotFound, Unauthenticated
from app.graphql.errors import as_graphql_error
from app.graphql.types.task import Task, TaskStatus
from app.metrics import WEBSOCKETS
from app.services import tasks as tasks_service
from app.state import AppState, log_refusal

FINISHED = (TaskStatus.COMPLETE, TaskStatus.ERROR)


@dataclass
class SubscriptionContext:
    """One WebSocket connection: the app, and the caller once `connection_init` named them."""

    state: AppState
    connection_params: dict[str, Any] | None = None
    principal: Principal | None = None


async def _next_change(changes: asyncio.Queue[str], task_id: str, within: float) -> str | None:
    """The next status announced for `task_id`, or None after `within` seconds (then we re-read
    anyway, so a lost notification costs latency, never an update)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (left := deadline - loop.time()) > 0:
        try:
            payload = await asyncio.wait_for(changes.get(), left)
        except TimeoutError:
            return None
        changed_ids, _, status = payload.rpartition(":")
        if task_id in changed_ids.split(","):
            return status
    return None


async def _read(ctx: SubscriptionContext, task_id: str) -> Task:
    assert ctx.principal is not None
    async with reading(ctx.state.sessions) as session:
        row = await tasks_service.find_task(session, ctx.principal, task_id)
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return Task.from_row(row)


def _passing(task: Task, announced: str | None, last: TaskStatus) -> Task | None:
    """A status the task went through faster than we could read it (RUNNING on its way to an
    end), shown as it was then, so subscribers see every step."""
    if announced != TaskStatus.RUNNING.value or last == TaskStatus.RUNNING:
        return None
    if task.status not in FINISHED:
        return None
    return dataclasses.replace(
        task, status=TaskStatus.RUNNING, completed_date=None, path=None, message=None
    )


async def watch_task(ctx: SubscriptionContext, task_id: str) -> AsyncGenerator[Task, None]:
    """Yield the task now and at each status change, until it is complete or in error."""
    poll = ctx.state.settings.worker_poll_seconds
    with notifications.task_changes(ctx.state.engine) as changes:
        task = await _read(ctx, task_id)
        yield task
        last = task.status
        while last not in FINISHED:
            announced = await _next_change(changes, task_id, poll)
            task = await _read(ctx, task_id)
            if (between := _passing(task, announced, last)) is not None:
                yield between
            if task.status != last or between is not None:
                yield task
            last = task.status


@strawberry.type(description="Pushed changes, over WebSocket (graphql-transport-ws) at /graphql.")
class Subscription:
    @strawberry.subscription(
        description="The task now, then again at each status change until COMPLETE or ERROR. "
        "Only its requester or a holder of `urn:dartmouth:tasks:students:write` may follow it."
    )
    async def task_updated(
        self, info: strawberry.Info[SubscriptionContext, None], task_id: str
    ) -> AsyncGenerator[Task, None]:
        ctx = info.context
        if not isinstance(ctx, SubscriptionContext) or ctx.principal is None:
            raise BadRequest("subscribe over WebSocket (graphql-transport-ws) at /graphql")
        try:
            async for task in watch_task(ctx, task_id):
                yield task
        except DomainError as exc:
            raise as_graphql_error(exc) from exc


class _View(GraphQL[SubscriptionContext, None]):
    def __init__(self, state: AppState) -> None:
        super().__init__(
            state.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.state = state

    async def get_context(self, request: Any, response: Any) -> SubscriptionContext:
        return SubscriptionContext(self.state)

    async def on_ws_connect(self, context: SubscriptionContext) -> UnsetType:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            context.principal = await verify(bearer_token(header), self.state.settings)
        except Unauthenticated as exc:
            log_refusal(exc, "")
            raise ConnectionRejectionError({"message": exc.message}) from exc
        return UnsetType()  # the UNSET singleton: a plain `connection_ack`, no payload


class GraphQLWebSocket:
    """The ASGI endpoint for WebSocket /graphql, bound to the running app's state."""

    def __init__(self) -> None:
        self._view: _View | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: AppState = scope["app"].state.studentgraph
        if self._view is None or self._view.state is not state:
            self._view = _View(state)
        WEBSOCKETS.inc()
        try:
            await self._view(scope, receive, send)
        finally:
            WEBSOCKETS.dec()


def mount(app: Any) -> None:
    """Serve subscriptions at WebSocket /graphql (HTTP /graphql is routed elsewhere)."""
    app.router.routes.append(WebSocketRoute("/graphql", GraphQLWebSocket()))
