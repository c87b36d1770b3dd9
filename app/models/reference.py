"""Reference data: the SIS term calendar, part-of-term codes, LMS terms, D-plan value lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class SisTerm(Base):
    """A quarterly term, id `YYYYMM` (01 Winter, 03 Spring, 06 Summer, 09 Fall)."""

    __tablename__ = "sis_terms"

    id: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    end_date: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


# Reference tables look alike: an id and a name or two, each a table of its own.
class TermDescription(Base):
    """A part-of-term code (`U` Undergraduate full term, ...)."""

    __tablename__ = "term_descriptions"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))


class LmsTerm(Base):
    """The learning-management-system term a student term maps to (`WI18`, ...)."""

    __tablename__ = "lms_terms"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    is_course_send_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_enroll_send_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class DplanCode(Base):
    """A D-plan value (`R` Resident, ...)."""

    __tablename__ = "dplan_codes"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    description: Mapped[str] = mapped_column(String(128))


class DplanSource(Base):
    """Where a D-plan came from (`PHL` Registrar Action, ...)."""

    __tablename__ = "dplan_sources"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    description: Mapped[str] = mapped_column(String(128))
