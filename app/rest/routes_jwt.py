"""`POST /api/jwt`: a service account's API key exchanged for a token, as the DartAPI does.

The key comes raw in `Authorization` (no `Bearer`); the scopes wanted in `?scope=` (space-
separated). Only scopes already granted to the account come back, none unless asked."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.auth.scopes import known_scopes
from app.db import transaction
from app.errors import BadApiKey, Unauthenticated
from app.rest import error_docs
from app.rest.errors import TranslatedRoute
from app.rest.responses import OrjsonResponse
from app.rest.schemas import error
from app.services import accounts
from app.state import log_refusal, request_id_of, state_of

router = APIRouter(tags=["login"], route_class=TranslatedRoute)


class JwtOut(BaseModel):
    jwt: str = Field(description="A bearer token for every route and the WebSocket.")
    accepted_scopes: list[str] = Field(
        description="The requested scopes the account holds: check it before going on."
    )


def _raw_key(request: Request) -> str | None:
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise BadApiKey("more than one Authorization header")
    return values[0] if values else None


@router.post(
    "/jwt",
    response_model=JwtOut,
    summary="Exchange an API key for a token",
    openapi_extra={"security": []},  # the key is the credential, not a bearer token
    responses={
        400: error("A NUL or similar in the query string.", error_docs.NUL_IN_QUERY),
        401: error("No key, or an unknown, revoked or expired one.", error_docs.BAD_API_KEY),
        422: error("A scope that is not one of the API's.", error_docs.NOT_A_SCOPE),
        429: error(
            "Too many attempts from this address or with this key id "
            "(RATE_LIMIT_JWT_PER_*_PER_MINUTE); `Retry-After` says when to try again.",
            error_docs.RATE_LIMITED,
        ),
        503: error("Minting is not configured (production).", error_docs.NOT_MINTING),
    },
)
async def exchange_key(
    request: Request,
    scope: str | None = Query(
        None, description="The scopes wanted, space-separated (URL-encoded). None: none."
    ),
) -> Response:
    """`Authorization: <API key>` (the key itself, no `Bearer`). Answers the token and
    `accepted_scopes`: those of the requested scopes the account was granted."""
    state = state_of(request)
    requested = known_scopes(scope)
    address = request.client.host if request.client else ""
    try:
        raw_key = _raw_key(request)
        # Each attempt is a database round trip: counted first, per address and per key id,
        # alike for every key (a forged one and a revoked one take the same path).
        await state.brakes.exchange(accounts.presented_key_id(raw_key), address)
        async with transaction(state.sessions) as session:
            result = await accounts.exchange(session, raw_key, requested, state.settings)
    except Unauthenticated as exc:
        log_refusal(exc, request_id_of(request))
        raise
    body = {"jwt": result.jwt, "accepted_scopes": result.accepted_scopes}
    return OrjsonResponse(body, 200, {"Cache-Control": "no-store"})
