"""Who a request acts as: the token's subject and scopes. Services take this, never a token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
