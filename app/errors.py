"""One error hierarchy with stable codes; each edge (REST, GraphQL, CLI) translates it once."""

from __future__ import annotations

from dataclasses import dataclass


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


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403

    def __init__(self, message: str, missing_scopes: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing_scopes = missing_scopes or []


class NotFound(DomainError):
    code = "NOT_FOUND"
    http_status = 404


class BadRequest(DomainError):
    """The request could not be read at all (malformed JSON, a bad continuation key)."""

    code = "BAD_REQUEST"
    http_status = 400


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class Invalid(DomainError):
    """The request was read but its content breaks a rule; `problems` names each one."""

    code = "BAD_USER_INPUT"
    http_status = 422


class Conflict(DomainError):
    code = "CONFLICT"
    http_status = 409
