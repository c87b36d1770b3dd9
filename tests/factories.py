"""Small factories: `make_student(session, **overrides)` and friends. They add and flush; the
test commits when the app must see the rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain import terms as calendar
from app.domain.reference_data import lms_term_id
from app.models import AcademicPlan, Disclosure, Student, StudentDplan, StudentTerm

_ids = itertools.count(1)


async def make_student(session: AsyncSession, **overrides: Any) -> Student:
    n = next(_ids)
    values: dict[str, Any] = {
        "netid": f"f{n:06d}",
        "first_name": f"Given{n}",
        "middle_name": None,
        "last_name": f"Family{n}",
        "class_year": 2020,
        "school_code": "UG",
        "ferpa_protected": False,
    }
    values.update(overrides)
    student = Student(**values)
    session.add(student)
    await session.flush()
    return student


async def make_term(session: AsyncSession, netid: str, term: str, **overrides: Any) -> StudentTerm:
    q = calendar.quarterly_term(term)
    values: dict[str, Any] = {
        "id": f"{next(_ids):024x}",
        "netid": netid,
        "term_id": f"{term}-U",
        "school_id": "UG",
        "start_date": q.start_date,
        "end_date": q.end_date,
        "lms_term_id": lms_term_id(term),
        "quarterly_term_id": term,
        "term_description_id": "U",
    }
    values.update(overrides)
    row = StudentTerm(**values)
    session.add(row)
    await session.flush()
    return row


async def make_plan(session: AsyncSession, netid: str, **overrides: Any) -> AcademicPlan:
    values: dict[str, Any] = {
        "id": 900000 + next(_ids),
        "type": "Major",
        "state": "declared",
        "name": "ECON-MAJOR",
        "parent_id": None,
        "updated": False,
        "dropped": False,
        "department": "ECON",
        "student_netid": netid,
        "faculty_netid": "d000001",
        "db_name": "iron",
        "updated_at": datetime(2021, 1, 29, 23, 7, 2, tzinfo=UTC),
    }
    values.update(overrides)
    row = AcademicPlan(**values)
    session.add(row)
    await session.flush()
    return row


async def make_dplan(
    session: AsyncSession, netid: str, term_code: str, **overrides: Any
) -> StudentDplan:
    values: dict[str, Any] = {
        "netid": netid,
        "term_code": term_code,
        "dplan_id": "R",
        "dplan_source_id": "PHL",
        "updated_at": datetime(2023, 2, 20, 14, 34, 11, tzinfo=UTC),
    }
    values.update(overrides)
    row = StudentDplan(**values)
    session.add(row)
    await session.flush()
    return row


def disclosure_row(netid: str, at: datetime, **overrides: Any) -> dict[str, object]:
    """A disclosure record's values, of one student, placed in time (DisclosureRepository.add
    takes a list)."""
    values: dict[str, object] = {
        "at": at,
        "sub": "registrar",
        "netids": [netid],
        "operation": "query StudentPage",
        "record_types": "student",
        "scopes": "urn:a",
        "request_id": f"request-{netid}",
    }
    values.update(overrides)
    return values


@dataclass(frozen=True)
class StudentRecord:
    """One student of a disclosure record (a record names several), as the audit lists it."""

    netid: str
    id: int
    at: datetime
    sub: str
    operation: str
    record_types: str
    scopes: str
    request_id: str


async def student_records(connection: Any, *where: Any) -> list[StudentRecord]:
    """The students of the disclosure records `where` selects (on a session or a connection),
    by netid, then record."""
    columns = [getattr(Disclosure, f.name) for f in fields(StudentRecord) if f.name != "netid"]
    stmt = select(Disclosure.netids, *columns).where(*where)
    rows = (await connection.execute(stmt)).all()
    shown = [StudentRecord(n, *row[1:]) for row in rows for n in row.netids]
    return sorted(shown, key=lambda r: (r.netid, r.id))
