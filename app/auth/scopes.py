"""The scope policy of DESIGN section 3, in one place."""

from __future__ import annotations

from app.auth.principal import Principal
from app.errors import Forbidden

STUDENTS_READ = "urn:dartmouth:students:read.sensitive"
STUDENTS_WRITE = "urn:dartmouth:students:write.sensitive"
PEOPLE_PRIVATE = "urn:dartmouth:people:private"
TASKS_WRITE = "urn:dartmouth:tasks:students:write"
ALL_SCOPES = (STUDENTS_WRITE, TASKS_WRITE, STUDENTS_READ, PEOPLE_PRIVATE)


def require_scopes(principal: Principal, *scopes: str) -> None:
    missing = [s for s in scopes if s not in principal.scopes]
    if missing:
        raise Forbidden(f"this request needs the scope {', '.join(missing)}")


def sees_protected(principal: Principal) -> bool:
    """FERPA-protected students exist only for holders of people:private."""
    return PEOPLE_PRIVATE in principal.scopes
