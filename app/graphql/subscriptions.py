"""`subscription taskUpdated(taskId)`, served over graphql-transport-ws at /graphql by
app/graphql/websocket.py (which also runs queries and mutations sent that way)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry

from app import notifications
from app.auth.principal import Principal
from app.db import reading
from app.domain.disclosures import Disclosed
from app.errors import BadRequest, NotFound
from app.graphql.change_stream import watch_changes
from app.graphql.types.change import ChangeEntry, ChangeFilter
from app.graphql.types.task import Task, TaskStatus
from app.ratelimit import Slot
from app.services import disclosures as disclosures_service
from app.services import tasks as tasks_service
from app.state import AppState

FINISHED = (TaskStatus.COMPLETE, TaskStatus.ERROR)


@dataclass
class SubscriptionContext:
    """One WebSocket connection: the app, and the caller once `connection_init` named them; a
    subscription's own copy carries its request id (app.graphql.websocket)."""

    state: AppState
    connection_params: dict[str, Any] | None = None
    principal: Principal | None = None
    request_id: str = ""
    slot: Slot | None = None  # its place among its caller's connections, once authenticated


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
    shown = Disclosed()
    task = Task.from_row(row, shown)
    # Each update sent is a disclosure of the task; recorded before it is sent.
    state = ctx.state
    to = disclosures_service.recipient(
        state.settings, ctx.principal, ctx.request_id, "subscription taskUpdated"
    )
    await disclosures_service.record(state.engine, to, shown, state.clock.now())
    return task


def _passing(task: Task, announced: str | None, last: TaskStatus) -> Task | None:
    """A status the task went through faster than we could read it (RUNNING on its way to an
    end), shown as it was then, so subscribers see every step."""
    if (
        announced != tasks_service.RUNNING or last == TaskStatus.RUNNING
    ):  # `announced`: the stored status
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
        self,
        info: strawberry.Info[SubscriptionContext, None],
        task_id: Annotated[str, strawberry.argument(description="The task to follow.")],
    ) -> AsyncGenerator[Task, None]:
        ctx = info.context
        if not isinstance(ctx, SubscriptionContext) or ctx.principal is None:
            raise BadRequest("subscribe over WebSocket (graphql-transport-ws) at /graphql")
        # A DomainError raised here reaches the client with its code (app.graphql.websocket
        # formats every streamed result as HTTP answers are formatted).
        async for task in watch_task(ctx, task_id):
            yield task

    @strawberry.subscription(
        description="Committed changes to students' records: every entry after `after` (from "
        "the oldest kept when absent), then each as it commits, in position order. Reconnect "
        "with the last `position` received to miss nothing and receive nothing twice. Needs "
        "`urn:dartmouth:students:read.sensitive`; a FERPA-protected student's entries also "
        "`urn:dartmouth:people:private`."
    )
    async def records_changed(
        self,
        info: strawberry.Info[SubscriptionContext, None],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="A position (its digits) or a cursor of `changes`: entries after it."
            ),
        ] = None,
        filter: Annotated[
            ChangeFilter | None, strawberry.argument(description="Which entries; all when absent.")
        ] = None,
    ) -> AsyncGenerator[ChangeEntry, None]:
        ctx = info.context
        if not isinstance(ctx, SubscriptionContext) or ctx.principal is None:
            raise BadRequest("subscribe over WebSocket (graphql-transport-ws) at /graphql")
        async for entry in watch_changes(ctx.state, ctx.principal, ctx.request_id, after, filter):
            yield entry
