"""`GET /api/academic/plans[/{id}]`: declared major and minor plans (seed 003)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.rest import error_docs
from app.rest.errors import TranslatedRoute
from app.rest.examples import PLANS_SAMPLE
from app.rest.pages import answer_collection, recipient_of
from app.rest.query import PLAN_ALIASES, ContinuationKey, PageNumber, PageSize
from app.rest.responses import PLANS_MAX_AGE, cached_body
from app.rest.schemas import COLLECTION_ERRORS, COMMON_ERRORS, AcademicPlanOut, error, ok
from app.services import compat_reads
from app.services.compat_reads import Collection
from app.state import authenticate, spend, state_of

router = APIRouter(tags=["academic plans"], route_class=TranslatedRoute)

# Declared for the documentation; read, with every other filter, from the query string.
NetidFilter = Annotated[
    str | None, Query(description="The student's netid: shorthand for `student_netid`.")
]

_COLLECTION_DOC = """Every declared major and minor plan the caller may see, filtered by the
query string: `attr=value` pairs ANDed (`?netid=f0027k4` is `student_netid`), `=<` / `=>` value
prefixes for inclusive ranges (`?parent_id==>20000`), a trailing `*` for a prefix match
(`?department=GO*`). Unknown attributes are ignored and named in `X-Ignored-Filters`.

Paged by `pagesize` (default 100, at most 1000). When there is more than one page the found set
is kept 12 hours: pass this response's `X-Request-ID` as `continuation_key` with `page=2`, ...
(`Link: rel="next"` gives the URL). Plans of FERPA-protected students need
`urn:dartmouth:people:private`; without it they are simply absent. Needs
`urn:dartmouth:students:read.sensitive`. `Cache-Control: private, max-age=3600`."""


@router.get(
    "/academic/plans",
    response_model=list[AcademicPlanOut],
    summary="Academic plans (a filtered collection)",
    description=_COLLECTION_DOC,
    responses={
        **ok("The matching plans, in id order; `[]` when none.", PLANS_SAMPLE),
        **COLLECTION_ERRORS,
    },
)
# The same collection with the trailing slash the seed's sample uses: one handler, two
# declared paths (each its own OpenAPI entry).
@router.get(
    "/academic/plans/",
    response_model=list[AcademicPlanOut],
    summary="Academic plans (a filtered collection; trailing slash, as in the seed's sample)",
    description=_COLLECTION_DOC,
    responses={
        **ok("The matching plans, in id order; `[]` when none.", PLANS_SAMPLE),
        **COLLECTION_ERRORS,
    },
    operation_id="list_plans_trailing_slash",
)
async def list_plans(
    request: Request,
    pagesize: PageSize = None,
    page: PageNumber = None,
    continuation_key: ContinuationKey = None,
    netid: NetidFilter = None,
) -> Response:
    """Academic plans, filtered (see the description)."""
    # Alike the student's plans (routes_students): one call to answer_collection each, with
    # the route's own collection and refresh interval.
    return await answer_collection(
        request,
        Collection("plans"),
        pagesize=pagesize,
        page=page,
        continuation_key=continuation_key,
        max_age=PLANS_MAX_AGE,
        aliases=PLAN_ALIASES,
    )


@router.get(
    "/academic/plans/{plan_id}",
    response_model=AcademicPlanOut,
    summary="One academic plan",
    responses={
        **ok("The plan.", PLANS_SAMPLE[0]),
        **COMMON_ERRORS,
        404: error("No such plan, or its student is FERPA-hidden.", error_docs.NOT_FOUND),
    },
)
async def get_plan(request: Request, plan_id: str) -> Response:
    """One plan by id. 404 when no plan has that id, or when the plan's student is
    FERPA-protected and the token lacks `urn:dartmouth:people:private` (the same answer).
    Needs `urn:dartmouth:students:read.sensitive`. `Cache-Control: private, max-age=3600`."""
    principal = await authenticate(request)
    await spend(request, principal, 1)
    state = state_of(request)
    to = recipient_of(request, principal)
    body = await compat_reads.plan(
        state.engine, principal, plan_id, state.clock.now(), to, state.replicas
    )
    return cached_body(request, body, max_age=PLANS_MAX_AGE)
