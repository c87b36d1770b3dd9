"""Who a request acts as: the token's subject and scopes. Services take this, never a token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Service accounts' tokens have the `sub` `svc:<account name>`: a namespace of their own, which
# no person's netid holds (no colon) and which a token from an identity provider may not claim
# (app/auth/tokens.py), so an account named like a person is not that person (a task, a found
# set and the rate limit go by `sub`).
SERVICE_ACCOUNT_PREFIX = "svc:"


def service_account_sub(name: str) -> str:
    return SERVICE_ACCOUNT_PREFIX + name


def parse_scopes(claim: Any) -> frozenset[str]:
    """The `scope` claim as DartAPI issues it: a space- or comma-separated string, or a list."""
    if claim is None:
        return frozenset()
    if isinstance(claim, str):
        return frozenset(s for s in claim.replace(",", " ").split() if s)
    if isinstance(claim, list | tuple) and all(isinstance(s, str) for s in claim):
        return frozenset(s.strip() for s in claim if s.strip())
    raise ValueError("the scope claim must be a string or a list of strings")


@dataclass(frozen=True)
class Principal:
    sub: str
    scopes: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Scopes in the order the token listed them: task records show them as the token had them.
    scope_order: tuple[str, ...] = ()

    @property
    def account(self) -> str | None:
        """The service account this is a token of; None for a person."""
        if self.sub.startswith(SERVICE_ACCOUNT_PREFIX):
            return self.sub.removeprefix(SERVICE_ACCOUNT_PREFIX)
        return None

    def has(self, *scopes: str) -> bool:
        return all(s in self.scopes for s in scopes)

    @property
    def name(self) -> str | None:
        value = self.claims.get("name")
        return str(value) if value is not None else None

    @property
    def email(self) -> str | None:
        value = self.claims.get("email")
        return str(value) if value is not None else None
