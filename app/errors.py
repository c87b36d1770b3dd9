"""One error hierarchy with stable codes; each edge (REST, GraphQL, CLI) translates it once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where it is (`loc`) and what is wrong with it."""

    loc: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"loc": self.loc, "message": self.message}


class DomainError(Exception):
    code = "INTERNAL"
    http_status = 500

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def headers(self) -> dict[str, str]:
        """HTTP headers its answer carries, whichever door gives it."""
        return {}

    def extensions(self) -> dict[str, Any]:
        """What a GraphQL error adds to its `extensions`, beside the code."""
        return {}


class Unauthenticated(DomainError):
    """Every refused token gets the same answer (which check failed would help an attacker);
    `reason` says it for the log."""

    code = "UNAUTHENTICATED"
    http_status = 401
    MESSAGE = "a valid bearer token is required (Authorization: Bearer <jwt>)"

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGE)
        self.reason = reason if len(reason) <= 200 else reason[:197] + "..."
        self.args = (self.reason,)  # str(exc), for logs; clients see only `message`

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class TokenExpired(Unauthenticated):
    """A token whose signature and claims were good but whose `exp` has passed: RFC 6750's
    `error_description` says so (which reveals nothing a forger could use: only a token we
    would have accepted earlier gets here), so a client knows to get a new one. Every other
    refused token keeps the one answer of `Unauthenticated`."""

    MESSAGE = "the bearer token has expired; get a new one (Authorization: Bearer <jwt>)"

    def __init__(self) -> None:
        super().__init__("the token has expired")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'}


class BadApiKey(Unauthenticated):
    """POST /api/jwt's one answer for every refused key (unknown, revoked, expired, malformed)."""

    MESSAGE = "a valid API key is required (Authorization: <key>)"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'ApiKey realm="studentgraph"'}


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}


# Each error is a class of its own (a code, a status, its headers), alike in shape: the doors
# translate by class, and a code never changes.
class NotFound(DomainError):
    code = "NOT_FOUND"
    http_status = 404


class BadRequest(DomainError):
    """The request could not be read at all (malformed JSON, a bad continuation key)."""

    code = "BAD_REQUEST"
    http_status = 400


class ChangesExpired(DomainError):
    """`after` is older than the change feed keeps (CHANGES_RETENTION_DAYS): entries after it
    were deleted, so the caller reads the collections again and follows from a fresh head."""

    code = "CHANGES_EXPIRED"
    http_status = 410


class PersistedQueryNotFound(DomainError):
    """Apollo's automatic persisted queries: the hash is unknown, so the client sends the text.
    Apollo's link recognises the message and the code, and retries only on an answer that is
    otherwise a success (200)."""

    code = "PERSISTED_QUERY_NOT_FOUND"
    http_status = 200

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


class PersistedQueryNotInList(DomainError):
    """Only persisted operations run here (GRAPHQL_PERSISTED_ONLY), and this one is not."""

    code = "PERSISTED_QUERY_NOT_IN_LIST"
    http_status = 400

    def __init__(self) -> None:
        super().__init__(
            "only persisted operations are served here (GRAPHQL_PERSISTED_ONLY), and this one "
            "is not among them; register it (studentgraph persisted add FILE)"
        )


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class DocumentTooLarge(DomainError):
    """A GraphQL document past GRAPHQL_MAX_DOCUMENT_BYTES, refused before it is parsed (sent,
    or stored and read back by its id)."""

    code = "MAX_DOCUMENT_BYTES_EXCEEDED"
    http_status = 413

    def __init__(self, size: int, maximum: int, *, stored: bool = False) -> None:
        what = "the stored document" if stored else "the document"
        super().__init__(
            f"{what} is {size} bytes, more than the maximum of {maximum} "
            "(GRAPHQL_MAX_DOCUMENT_BYTES); send a smaller one (comments and whitespace count)"
        )
        self.size, self.maximum = size, maximum


class UnsupportedMediaType(DomainError):
    """A body sent without a Content-Type, or in a media type the door does not read."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


# Each error: a stable code, an HTTP status, and the headers its answer carries.
class Invalid(DomainError):
    """The request was read but its content breaks a rule; `problems` names each one."""

    code = "BAD_USER_INPUT"
    http_status = 422


class RateLimited(DomainError):
    """Too many requests, or too much cost, from one caller; `retry_after` seconds until the
    next is allowed; `details` (GraphQL's `extensions`) and `limit` (headers): what was asked
    and what is left."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(
        self,
        retry_after: int,
        message: str = "",
        details: dict[str, Any] | None = None,
        limit: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or f"too many requests; retry in {retry_after} s (Retry-After)")
        self.retry_after = retry_after
        self.details, self.limit = details or {}, limit or {}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after), **self.limit}

    def extensions(self) -> dict[str, Any]:
        return self.details


class StatementTimeout(DomainError):
    """A statement ran past the database's statement timeout and was stopped."""

    code = "TIMEOUT"
    http_status = 503

    def __init__(self, timeout_ms: int | None = None) -> None:
        limit = f" ({timeout_ms} ms)" if timeout_ms else ""
        super().__init__(
            f"the database stopped a statement that ran past its time limit{limit}; "
            "ask for less (fewer rows, a narrower filter)"
        )


class NotConfigured(DomainError):
    """A feature this instance was not configured for (say which setting would enable it)."""

    code = "NOT_CONFIGURED"
    http_status = 503


class DatabaseUnavailable(DomainError):
    """The database cannot be reached (down, restarting, refusing connections): try again."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    RETRY_AFTER_SECONDS = 5

    def __init__(self) -> None:
        super().__init__("the database is unavailable; retry in a few seconds (Retry-After)")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}
