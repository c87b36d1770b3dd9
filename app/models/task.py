"""Tasks: the durable record of an accepted write, claimed and applied by workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime

UNFINISHED = text("status IN ('accepted', 'running')")
FINISHED = text("status IN ('complete', 'error')")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("requester_sub", "idempotency_key", name="uq_tasks_requester_idempotency"),
        Index("ix_tasks_claimable", "status", "available_at"),
        # Unfinished tasks only (the queue, not the history): taking the next tasks reads
        # these in id order and checks each for an earlier one of its resource.
        Index("ix_tasks_unfinished", "id", postgresql_where=UNFINISHED, sqlite_where=UNFINISHED),
        Index(
            "ix_tasks_unfinished_by_resource",
            "resource_id",
            "id",
            postgresql_where=UNFINISHED,
            sqlite_where=UNFINISHED,
        ),
        # Finished tasks by when they finished: the retention (TASKS_RETENTION_DAYS) deletes
        # the oldest first, a batch at a time, without reading the queue or the whole history.
        Index(
            "ix_tasks_finished",
            "completed_date",
            postgresql_where=FINISHED,
            sqlite_where=FINISHED,
        ),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    resource: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    requester: Mapped[dict[str, Any]] = mapped_column(JSON)
    requester_sub: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16))
    request_date: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    path: Mapped[str | None] = mapped_column(String(256))
    worker_data: Mapped[Any | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))


class FoundSet(Base):
    """A REST collection's found set, kept so `continuation_key` pages through it unchanged:
    its first keys packed (app/domain/found_sets.py) within FOUND_SET_MAX_BYTES and, when more
    matched, what reads the rest (`beyond`: the filter, and the highest plan id at the first
    request)."""

    __tablename__ = "found_sets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_sub: Mapped[str] = mapped_column(String(128))
    scopes_key: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    packed: Mapped[bytes] = mapped_column(LargeBinary)
    total: Mapped[int] = mapped_column(Integer)
    beyond: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
