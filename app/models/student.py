"""Students and what hangs off them: terms, academic plans, D-plans."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UtcDateTime


class Student(Base):
    __tablename__ = "students"

    netid: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(128))
    middle_name: Mapped[str | None] = mapped_column(String(128))
    last_name: Mapped[str] = mapped_column(String(128))
    class_year: Mapped[int | None] = mapped_column(Integer, index=True)
    school_code: Mapped[str | None] = mapped_column(String(16), index=True)
    ferpa_protected: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    terms: Mapped[list[StudentTerm]] = relationship(lazy="raise", back_populates="student")
    dplans: Mapped[list[StudentDplan]] = relationship(lazy="raise", back_populates="student")


# Name-prefix search compares lower(name); text_pattern_ops lets PostgreSQL use it for LIKE 'x%'.
for _column in (Student.last_name, Student.first_name):
    Index(
        f"ix_students_{_column.key}_lower",
        func.lower(_column).label(f"lower_{_column.key}"),
        postgresql_ops={f"lower_{_column.key}": "text_pattern_ops"},
    )
# `students(orderBy: LAST_NAME_*)`: the order, its key last (migration 0004).
Index("ix_students_name_order", Student.last_name, Student.first_name, Student.netid)


class StudentTerm(Base):
    """A term a student holds (`201801-U`), with its LMS, quarterly and part-of-term refs."""

    __tablename__ = "student_terms"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    netid: Mapped[str] = mapped_column(ForeignKey("students.netid"), index=True)
    term_id: Mapped[str] = mapped_column(String(16))
    school_id: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lms_term_id: Mapped[str | None] = mapped_column(ForeignKey("lms_terms.id"))
    quarterly_term_id: Mapped[str] = mapped_column(ForeignKey("sis_terms.id"), index=True)
    term_description_id: Mapped[str | None] = mapped_column(ForeignKey("term_descriptions.id"))

    student: Mapped[Student] = relationship(lazy="raise", back_populates="terms")


class AcademicPlan(Base):
    """A declared major/minor plan. The id is a string of digits in the API, an integer here, so
    that ids sort numerically and `parent_id` (an integer in the REST samples) is a real key."""

    __tablename__ = "academic_plans"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("academic_plans.id"), index=True)
    updated: Mapped[bool] = mapped_column(Boolean, default=False)
    dropped: Mapped[bool] = mapped_column(Boolean, default=False)
    department: Mapped[str | None] = mapped_column(String(16), index=True)
    student_netid: Mapped[str] = mapped_column(ForeignKey("students.netid"), index=True)
    faculty_netid: Mapped[str | None] = mapped_column(String(16))
    internal_comment: Mapped[str | None] = mapped_column(Text)
    student_rationale: Mapped[str | None] = mapped_column(Text)
    denial_reason: Mapped[str | None] = mapped_column(Text)
    prerequisites: Mapped[str | None] = mapped_column(Text)
    culminating_experience: Mapped[str | None] = mapped_column(Text)
    approval_comment: Mapped[str | None] = mapped_column(Text)
    student_comments: Mapped[str | None] = mapped_column(Text)
    db_name: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# `plans(orderBy: STUDENT_NETID_*)`: the order, its key last (migration 0004).
Index("ix_academic_plans_student_order", AcademicPlan.student_netid, AcademicPlan.id)


class StudentDplan(Base):
    """A student's D-plan for one term; at most one per (netid, term_code)."""

    __tablename__ = "student_dplans"

    netid: Mapped[str] = mapped_column(ForeignKey("students.netid"), primary_key=True)
    term_code: Mapped[str] = mapped_column(ForeignKey("sis_terms.id"), primary_key=True)
    dplan_id: Mapped[str] = mapped_column(ForeignKey("dplan_codes.id"))
    dplan_source_id: Mapped[str] = mapped_column(ForeignKey("dplan_sources.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The task that last wrote this row. An apply only overwrites rows written by an earlier task,
    # so replays are no-ops and the newest accepted task wins whatever order applies finish in.
    task_id: Mapped[str | None] = mapped_column(String(24))

    student: Mapped[Student] = relationship(lazy="raise", back_populates="dplans")
