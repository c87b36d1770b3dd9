"""JSON responses encoded with orjson, with the caching headers every compat 200 carries:
`Cache-Control: private, max-age=<refresh interval>`, a strong `ETag` (a hash of the body), and
`304 Not Modified` (no body) when `If-None-Match` names it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi.responses import Response
from starlette.requests import Request

# The seed documents' "Cache Refresh Interval": plans 1 hour, terms 24 hours. The student (with
# its D-plans, which PATCH changes) is revalidated on every use: a 304 costs no body.
PLANS_MAX_AGE = 3600
TERMS_MAX_AGE = 86400
STUDENT_MAX_AGE = 0


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def cached_json(
    request: Request,
    data: Any,
    *,
    max_age: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A 200 with `data`, or a bodiless 304 when the caller already holds this exact body."""
    return cached_body(request, orjson.dumps(data), max_age=max_age, headers=headers)


def cached_body(
    request: Request,
    body: bytes,
    *,
    max_age: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`cached_json` for a body already encoded (by the database)."""
    etag = etag_of(body)
    all_headers = {
        "Cache-Control": f"private, max-age={max_age}",
        "ETag": etag,
        "Vary": "Authorization",
        **(headers or {}),
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=all_headers)
    return Response(body, 200, all_headers, media_type="application/json")
