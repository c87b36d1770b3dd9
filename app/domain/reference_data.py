"""The reference data a fresh database starts with (all of it replaceable with `load`)."""

from __future__ import annotations

from typing import Any

from app.domain import terms as calendar

FIRST_YEAR, LAST_YEAR = 1990, 2040
LMS_PREFIX = {"01": "WI", "03": "SP", "06": "SU", "09": "FA"}

# Reference data, as the registrar lists it: ids and names, one list per table.
TERM_DESCRIPTIONS = [
    {"id": "U", "name": "Undergraduate full term"},
    {"id": "G", "name": "Graduate full term"},
    {"id": "1", "name": "First half of term"},
    {"id": "2", "name": "Second half of term"},
]
# Value lists: data, alike in shape.
DPLAN_CODES = [
    {"id": "R", "description": "Resident"},
    {"id": "L", "description": "Leave Term"},
    {"id": "O", "description": "Off-Campus Program"},
    {"id": "X", "description": "Exchange Program"},
    {"id": "W", "description": "Withdrawn"},
]
DPLAN_SOURCES = [
    {"id": "PHL", "description": "Registrar Action"},
    {"id": "STU", "description": "Student Request"},
    {"id": "OCP", "description": "Off-Campus Programs Office"},
    {"id": "DEA", "description": "Dean's Office"},
]


def sis_terms() -> list[dict[str, Any]]:
    return [
        {"id": t.id, "name": t.name, "start_date": t.start_date, "end_date": t.end_date}
        for t in calendar.calendar(FIRST_YEAR, LAST_YEAR)
    ]


def lms_term_id(term_id: str) -> str:
    return f"{LMS_PREFIX[term_id[4:]]}{term_id[2:4]}"


def lms_terms() -> list[dict[str, Any]]:
    return [
        {
            "id": lms_term_id(t.id),
            "name": f"{t.name} (A&S)",
            "is_course_send_enabled": False,
            "is_enroll_send_enabled": False,
        }
        for t in calendar.calendar(FIRST_YEAR, LAST_YEAR)
    ]
