"""Disclosure records (FERPA, 34 CFR 99.32): who received which student's records, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class Disclosure(Base):
    """One request's disclosure of one student's records (or one applied write of them)."""

    __tablename__ = "disclosures"
    __table_args__ = (
        # `studentgraph audit --netid X`, newest first; retention deletes by `at`. `at` only
        # grows, so a BRIN index serves that delete at a fraction of a B-tree's cost per insert
        # (every read inserts here); SQLite, which has no BRIN, gets a B-tree.
        Index("ix_disclosures_netid_at", "netid", "at"),
        Index("ix_disclosures_at", "at", postgresql_using="brin"),
    )

    # BIGINT on PostgreSQL (a record per student per read adds up); SQLite's rowid otherwise.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    sub: Mapped[str] = mapped_column(String(128))
    netid: Mapped[str] = mapped_column(String(64))
    # `GET /api/students/{netid}`, `query StudentPage`, `apply setDplans`, ...
    operation: Mapped[str] = mapped_column(String(200))
    # Sorted and comma-separated: student, terms, plans, dplans, tasks.
    record_types: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)
    # The request's id (X-Request-ID); for an applied write, the task's id.
    request_id: Mapped[str] = mapped_column(String(64))
