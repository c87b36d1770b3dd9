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
