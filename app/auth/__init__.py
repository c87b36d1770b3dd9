"""JWT verification, the Principal a request acts as, and the scope policy."""

from app.auth.principal import Principal
from app.auth.scopes import (
    PEOPLE_PRIVATE,
    STUDENTS_READ,
    STUDENTS_WRITE,
    TASKS_WRITE,
    require_scopes,
)

__all__ = [
    "PEOPLE_PRIVATE",
    "STUDENTS_READ",
    "STUDENTS_WRITE",
    "TASKS_WRITE",
    "Principal",
    "require_scopes",
]
