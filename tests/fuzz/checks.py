"""A schemathesis check for GraphQL (loaded with SCHEMATHESIS_HOOKS=tests.fuzz.checks): no 5xx,
a GraphQL response, and every error an expected one with a stable code. (schemathesis's own
`not_a_server_error` counts any resolver error, NOT_FOUND included, as a failure.)"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def no_internal_error(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"{response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"not JSON: {response.text[:300]}") from exc
    if not isinstance(body, dict) or not ("data" in body or "errors" in body):
        raise AssertionError(f"not a GraphQL response: {str(body)[:300]}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None or code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"an unexpected error: {error}")
