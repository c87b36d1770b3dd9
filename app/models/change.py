"""Change entries: the outbox of every committed change to a student, term, plan or D-plan."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class Change(Base):
    """One record's change, written in the transaction that changed it (app/services/changes.py).

    `position` only grows (SQLite: AUTOINCREMENT, never reused; PostgreSQL: a sequence) and is
    taken under the capture lock held to commit, so positions are in commit order."""

    __tablename__ = "changes"
    __table_args__ = (
        Index("ix_changes_netid_position", "netid", "position"),
        Index("ix_changes_committed_at", "committed_at"),
        {"sqlite_autoincrement": True},
    )

    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    committed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(8))  # student | term | plan | dplan
    key: Mapped[str] = mapped_column(String(64))  # netid, term id, plan id, `netid/term_code`
    netid: Mapped[str] = mapped_column(String(16))
    op: Mapped[str] = mapped_column(String(8))  # insert | update | delete
    source: Mapped[str] = mapped_column(String(64))  # `task <id>`, `load`, `demo`, `generate`
    record: Mapped[str] = mapped_column(Text)  # JSON text, as the REST route answers it


class ChangeFeedState(Base):
    """One row: the highest position retention has deleted (older `after`s answer 410)."""

    __tablename__ = "change_feed_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)


class Webhook(Base):
    """A subscriber's endpoint: the workers POST it the entries after `after` that its
    account's scopes may read (app/worker/webhooks.py), in position order, at least once."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    url: Mapped[str] = mapped_column(Text)
    account_name: Mapped[str] = mapped_column(String(128))
    kinds: Mapped[str | None] = mapped_column(String(64))  # comma-separated; NULL: every kind
    secret: Mapped[str] = mapped_column(String(64))  # signs each delivery (HMAC-SHA256)
    state: Mapped[str] = mapped_column(String(16))  # active | paused
    paused_reason: Mapped[str | None] = mapped_column(Text)
    after: Mapped[int] = mapped_column(BigInteger, default=0)  # delivered through this position
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_delivery_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)  # entries, in all
    redelivered: Mapped[int] = mapped_column(BigInteger, default=0)  # entries sent again
    # The last position of the batch being sent: a batch sent again after a failure or a
    # worker's death counts its entries up to here as redelivered.
    sending_through: Mapped[int] = mapped_column(BigInteger, default=0)
