"""Disclosure records (FERPA, 34 CFR 99.32): who received which students' records, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import NAMING_CONVENTION, Base, UtcDateTime


class Disclosure(Base):
    """One request's disclosure of the same kinds of record (`record_types`) of some students
    (`netids`): a request that shows students' records writes one record per combination of
    kinds it showed (one, for a page of students asked the same fields)."""

    __tablename__ = "disclosures"
    __table_args__ = (
        # `studentgraph audit --netid X`: PostgreSQL finds a student's records through a GIN
        # index of the netid arrays (`netids @> ARRAY[X]`); SQLite, which has none, through the
        # side table `disclosure_netids` below. Retention deletes by `at`, which only grows: a
        # BRIN index serves it at a fraction of a B-tree's cost per insert; SQLite gets a B-tree.
        Index("ix_disclosures_netids", "netids", postgresql_using="gin"),
        Index("ix_disclosures_at", "at", postgresql_using="brin"),
    )

    # BIGINT on PostgreSQL; SQLite's rowid otherwise.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    sub: Mapped[str] = mapped_column(String(128))
    # Whose records: TEXT[] on PostgreSQL, a JSON array on SQLite; sorted, each once.
    netids: Mapped[list[str]] = mapped_column(ARRAY(Text).with_variant(JSON(), "sqlite"))
    # `GET /api/students/{netid}`, `query StudentPage`, `apply setDplans`, ...
    operation: Mapped[str] = mapped_column(String(200))
    # Sorted and comma-separated: count, dplans, plans, student, tasks, terms.
    record_types: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)
    # The request's id (X-Request-ID); for an applied write, the task's id.
    request_id: Mapped[str] = mapped_column(String(64))


# SQLite only (created by migration 0007, kept by its triggers, not part of `Base.metadata`):
# one row per (netid, record), the lookup PostgreSQL's GIN index gives. A record's insert adds
# its rows and its delete removes them, in the same statement, so the two never disagree.
SQLITE_NETIDS = Table(
    "disclosure_netids",
    MetaData(naming_convention=NAMING_CONVENTION),
    Column("netid", Text, primary_key=True),
    Column("disclosure_id", Integer, primary_key=True),
    sqlite_with_rowid=False,
)
