"""Reads answered by one statement whose JSON the database builds (GraphQL's planned reads, the
REST compat reads): scopes decided here before it runs, FERPA visibility inside it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.disclosures import Recipient
from app.replicas import Replicas
from app.repositories.json_reads import JsonReads, RootQuery
from app.services.paging import check_page_size

STUDENT_DATA = frozenset({"student", "students", "plan", "plans"})
CONNECTIONS = frozenset({"students", "plans"})


async def data_json(
    engine: AsyncEngine,
    principal: Principal,
    queries: Sequence[RootQuery],
    *,
    now: datetime,
    max_page_size: int,
    recipient: Recipient | None = None,
    replicas: Replicas | None = None,
) -> str:
    """`{"<key>": <value>, ...}` for root fields, as JSON text. Raises what the resolvers would
    (`Forbidden`, `Invalid`) before any SQL runs. The students it shows are recorded as
    disclosed to `recipient` with the read itself (app.repositories.json_reads). A usable
    replica among `replicas` reads, when there is one (app/replicas.py)."""
    if any(q.kind in STUDENT_DATA for q in queries):
        require_scopes(principal, STUDENTS_READ)
    for query in queries:
        if query.kind in CONNECTIONS:
            check_page_size(query.args["first"], max_page_size)
    return await JsonReads(engine, replicas).data(
        queries, include_protected=sees_protected(principal), now=now, recipient=recipient
    )
