"""SQLAlchemy ORM classes only. Relationships are `lazy="raise"`: related rows come from a
dataloader or an explicit load, never a hidden query."""

from app.models.account import ApiKey, ServiceAccount
from app.models.base import Base, UtcDateTime
from app.models.change import Change, ChangeFeedState, Webhook
from app.models.disclosure import Disclosure
from app.models.persisted import PersistedQuery
from app.models.reference import DplanCode, DplanSource, LmsTerm, SisTerm, TermDescription
from app.models.student import AcademicPlan, Student, StudentDplan, StudentTerm
from app.models.task import FoundSet, Task

__all__ = [
    "AcademicPlan",
    "ApiKey",
    "Base",
    "Change",
    "ChangeFeedState",
    "Disclosure",
    "DplanCode",
    "DplanSource",
    "FoundSet",
    "LmsTerm",
    "PersistedQuery",
    "ServiceAccount",
    "SisTerm",
    "Student",
    "StudentDplan",
    "StudentTerm",
    "Task",
    "TermDescription",
    "UtcDateTime",
    "Webhook",
]
