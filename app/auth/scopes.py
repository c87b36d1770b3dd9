"""The scope policy of DESIGN section 3, in one place."""

from __future__ import annotations

from collections.abc import Iterable

from app.auth.principal import Principal
from app.errors import Forbidden, Invalid, Problem

STUDENTS_READ = "urn:dartmouth:students:read.sensitive"
STUDENTS_WRITE = "urn:dartmouth:students:write.sensitive"
PEOPLE_PRIVATE = "urn:dartmouth:people:private"
TASKS_WRITE = "urn:dartmouth:tasks:students:write"
ALL_SCOPES = (STUDENTS_WRITE, TASKS_WRITE, STUDENTS_READ, PEOPLE_PRIVATE)


def known_scopes(text: str | None, loc: str = "scope") -> list[str]:
    """Scopes as written by an operator (`account grant --scope`, `token --scope`) or a caller
    (`POST /api/jwt?scope=`): separated by spaces, in order, each once, each one of
    ALL_SCOPES."""
    scopes = list(dict.fromkeys((text or "").split()))
    check_known(scopes, loc)
    return scopes


def check_known(scopes: Iterable[str], loc: str = "scope") -> None:
    """`Invalid` naming the first scope that is not one of ALL_SCOPES. A scope with a comma or
    a space inside would be stored as one and read as two by the token check (a `scope` claim
    splits on both: DESIGN section 3), so `a,urn:dartmouth:people:private` granted would grant
    people:private, and revoking that would not take it back: no known scope holds either."""
    for scope in scopes:
        if scope in ALL_SCOPES:
            continue
        inside = "a comma" if "," in scope else "a space" if any(c.isspace() for c in scope) else ""
        why = f"holds {inside} (scopes are separated by spaces)" if inside else "is not a scope"
        message = f"{scope[:60]!r} {why}; the scopes are {' '.join(ALL_SCOPES)}"
        raise Invalid(f"{loc}: {message}", [Problem(loc, message)])


def require_scopes(principal: Principal, *scopes: str) -> None:
    missing = [s for s in scopes if s not in principal.scopes]
    if missing:
        raise Forbidden(f"this request needs the scope {', '.join(missing)}")


def sees_protected(principal: Principal) -> bool:
    """FERPA-protected students exist only for holders of people:private."""
    return PEOPLE_PRIVATE in principal.scopes
