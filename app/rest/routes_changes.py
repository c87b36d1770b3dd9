"""`GET|HEAD /api/changes`: the change feed, pulled a page at a time from a position."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.rest import error_docs
from app.rest.errors import TranslatedRoute
from app.rest.pages import recipient_of
from app.rest.schemas import COMMON_ERRORS, error
from app.services import changes as changes_service
from app.state import authenticate, spend, state_of

router = APIRouter(tags=["changes"], route_class=TranslatedRoute)

NEXT_AFTER = "Changes-Next-After"
REMAINING = "Changes-Remaining"
HEAD = "Changes-Head"

After = Annotated[
    int,
    Query(
        ge=0,
        le=changes_service.POSITION_MAX,  # past it a 422 naming `after`, not a driver error
        description="The position to read after: 0 for the oldest kept, then the last "
        f"response's `{NEXT_AFTER}`.",
    ),
]
Kind = Annotated[
    str | None, Query(description="Only entries of this kind: student, term, plan, dplan.")
]
Netid = Annotated[str | None, Query(description="Only entries of this student.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in COMMON_ERRORS.items() if k != 304},
    400: error("The query string cannot be read (a NUL, say).", error_docs.NUL_IN_QUERY),
    422: error(
        "A parameter cannot be used (`limit` outside 1..1000, `after` below 0).",
        error_docs.parameter_refused("limit", "Input should be greater than or equal to 1"),
    ),
}
EXPIRED: dict[int | str, dict[str, Any]] = {
    410: error(
        "`after` is older than the entries kept (`CHANGES_EXPIRED`): read the collections "
        "again, then follow from the position read before them.",
        changes_service.expired(0),
    )
}
DESCRIPTION = f"""Entries after `after`, in position order, as a JSON array: `position`,
`committed_at`, `kind` (student, term, plan, dplan), `key`, `netid`, `op` (insert, update,
delete), `source` (`task <id>`, `load`, `demo`, `generate`) and `record` (as the record's REST
route answers it). Ask next after the `{NEXT_AFTER}` header: it is past every entry this
token may not see, so a consumer that always continues from it misses nothing it may see and
sees nothing twice. No entry is shown while a write with a lower position may still commit.

Needs `urn:dartmouth:students:read.sensitive`; entries of a FERPA-protected student also
`urn:dartmouth:people:private` (without it they do not exist). Docs: Following changes."""


def _query(after: int, kind: str | None, netid: str | None) -> changes_service.Query:
    return changes_service.Query(after=after, kind=kind or None, netid=netid or None)


@router.get(
    "/changes",
    summary="Changes to students' records, after a position",
    description=DESCRIPTION,
    responses={**ERRORS, **EXPIRED},
)
async def get_changes(
    request: Request,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many entries.")] = 100,
    kind: Kind = None,
    netid: Netid = None,
) -> Response:
    """A page of the change feed (see the description)."""
    principal = await authenticate(request)
    await spend(request, principal, 1)
    state = state_of(request)
    page = await changes_service.page(
        state.engine,
        principal,
        _query(after, kind, netid),
        limit,
        now=state.clock.now(),
        to=recipient_of(request, principal),
    )
    headers = {NEXT_AFTER: str(page.next_after), "Cache-Control": "no-store"}
    return Response(page.entries, 200, headers, media_type="application/json")


@router.head(
    "/changes",
    summary="How many entries remain after a position",
    description=f"`{REMAINING}`: how many entries after `after` this token may see; "
    f"`{HEAD}`: the highest position written (note it before reading the collections, then "
    "follow the changes after it).",
    response_class=Response,
    responses={
        200: {"description": "No body: the headers answer.", "content": None},
        **ERRORS,
        **EXPIRED,
    },
)
async def head_changes(
    request: Request, after: After = 0, kind: Kind = None, netid: Netid = None
) -> Response:
    """How far behind a consumer is."""
    principal = await authenticate(request)
    await spend(request, principal, 1)
    state = state_of(request)
    query = _query(after, kind, netid)
    count, head = await changes_service.remaining(state.engine, principal, query)
    headers = {REMAINING: str(count), HEAD: str(head), "Cache-Control": "no-store"}
    return Response(None, 200, headers)
