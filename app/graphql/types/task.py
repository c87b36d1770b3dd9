"""Task, its status and requester, the D-plan input, and the resolvers of `setDplans` and
`task(id)`: thin adapters over the same services as the REST routes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from app.domain.disclosures import TASKS, Disclosed
from app.graphql.context import Info, found_nodes
from app.services import dplans as dplans_service
from app.services import tasks as tasks_service
from app.services.tasks import TaskRow


@strawberry.enum(description="Where a task is: REST shows RUNNING as `accepted`.")
class TaskStatus(Enum):
    ACCEPTED = strawberry.enum_value(
        "accepted", description="Stored and waiting for a worker (or for a retry)."
    )
    RUNNING = strawberry.enum_value("running", description="A worker is applying it now.")
    COMPLETE = strawberry.enum_value("complete", description="Applied; `message` is `success`.")
    ERROR = strawberry.enum_value(
        "error", description="Given up; `message` says why. Nothing of it was applied."
    )


@strawberry.type(description="Who asked for a task, from their token.")
class TaskRequester:
    sub: str = strawberry.field(description="The token's subject (a netid).")
    name: str | None = strawberry.field(description="The token's `name` claim.")
    email: str | None = strawberry.field(description="The token's `email` claim.")
    scope: str = strawberry.field(description="The token's scopes, comma-separated, in order.")
    exp: str | None = strawberry.field(description="The token's expiry (epoch seconds).")
    iat: str | None = strawberry.field(description="When the token was issued (epoch seconds).")


@strawberry.type(description="An accepted write, applied by a worker. Follow it with `task(id)`.")
class Task(relay.Node):
    task_id: str = strawberry.field(
        description="The task id: 24 lowercase hex characters, in acceptance order."
    )
    status: TaskStatus = strawberry.field(description="ACCEPTED, RUNNING, COMPLETE or ERROR.")
    resource: str = strawberry.field(description="What it changes: `students`.")
    action: str = strawberry.field(description="How: `PATCH`.")
    resource_id: str = strawberry.field(description="Which one: the netid.")
    payload: JSON = strawberry.field(description="The change asked for, as sent.")
    requester: TaskRequester = strawberry.field(description="Who asked.")
    request_date: datetime = strawberry.field(description="When it was accepted.")
    completed_date: datetime | None = strawberry.field(description="When it finished.")
    path: str | None = strawberry.field(description="The changed resource's REST path, once done.")
    worker_data: JSON | None = strawberry.field(description="Reserved; null.")
    message: str | None = strawberry.field(
        description="`success`, or what went wrong and what to do (also retry progress)."
    )

    @classmethod
    def from_row(cls, row: TaskRow, shown: Disclosed) -> Task:
        """The task of `row`, noted as shown (its student's `tasks` record)."""
        shown.add(row.resource_id, TASKS)
        requester: dict[str, Any] = row.requester or {}
        return cls(
            task_id=row.id,
            status=TaskStatus(row.status),
            resource=row.resource,
            action=row.action,
            resource_id=row.resource_id,
            payload=row.payload,
            requester=TaskRequester(
                sub=requester.get("sub", row.requester_sub),
                name=requester.get("name"),
                email=requester.get("email"),
                scope=requester.get("scope", ""),
                exp=requester.get("exp"),
                iat=requester.get("iat"),
            ),
            request_date=row.request_date,
            completed_date=row.completed_date,
            path=row.path,
            worker_data=row.worker_data,
            message=row.message,
        )

    @classmethod
    # Relay's Node protocol, spelled per type (as Student and AcademicPlan do); the shared
    # work is `found_nodes`.
    def resolve_id(cls, root: Task, *, info: Info) -> str:
        return root.task_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Task | None]:
        return await found_nodes(info, node_ids, tasks_service.find_task, cls.from_row)


@strawberry.input(description="One D-plan to set: the value for one term.")
class DplanInput:
    term_code: str = strawberry.field(description="A known SIS term code (`202301`).")
    dplan_id: str = strawberry.field(description="A known D-plan code (`R`).")
    dplan_source_id: str = strawberry.field(description="A known D-plan source (`PHL`).")
    dplan_description: str | None = strawberry.field(default=None, description="Ignored.")
    dplan_source_description: str | None = strawberry.field(default=None, description="Ignored.")

    def as_payload(self) -> dict[str, str]:
        """The entry as the REST payload spells it (and as the task records it)."""
        entry = {
            "dplan_description": self.dplan_description,
            "dplan_source_id": self.dplan_source_id,
            "dplan_id": self.dplan_id,
            "dplan_source_description": self.dplan_source_description,
            "term_code": self.term_code,
        }
        return {k: v for k, v in entry.items() if v is not None}


async def resolve_task(
    info: Info,
    id: Annotated[str, strawberry.argument(description="The task id (24 hex characters).")],
) -> Task | None:
    """One task by id; null when unknown or not yours (without tasks:students:write)."""
    ctx = info.context
    row = await tasks_service.find_task(ctx.session, ctx.principal, id)
    return Task.from_row(row, ctx.disclosed) if row is not None else None


async def resolve_set_dplans(
    info: Info,
    netid: Annotated[str, strawberry.argument(description="The student's netid.")],
    dplans: Annotated[
        list[DplanInput],
        strawberry.argument(description="One D-plan per term to set (1 to 100 of them)."),
    ],
    idempotency_key: Annotated[
        str | None,
        strawberry.argument(
            description="Any string of yours: a repeat of the same request with it answers "
            "the first task instead of making another."
        ),
    ] = None,
) -> Task:
    """Validate and accept a D-plan change; the task is stored when the operation answers."""
    ctx = info.context
    body = {"dplans": [d.as_payload() for d in dplans]}
    row = await dplans_service.set_dplans(
        ctx.session, ctx.principal, netid, body, idempotency_key=idempotency_key
    )
    return Task.from_row(row, ctx.disclosed)
