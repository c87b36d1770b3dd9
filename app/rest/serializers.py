"""Rows -> dicts shaped exactly as the seed samples: same keys, same order, same types.

`id` a string, `parent_id` an integer or null, flags `"Y"`/`"N"`, timestamps `YYYY-MM-DDTHH:MM:SSZ`
in UTC, text (HTML included) passed through untouched."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.domain import terms as calendar

Json = dict[str, Any]


def timestamp(value: datetime | None) -> str | None:
    """`2021-01-29T23:07:02Z`: UTC, whole seconds, a literal `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def flag(value: bool | None) -> str:
    return "Y" if value else "N"


def plan(row: Any) -> Json:
    """One row of `GET /api/academic/plans` (seed 003)."""
    return {
        "id": str(row.id),
        "type": row.type,
        "state": row.state,
        "name": row.name,
        "parent_id": row.parent_id,
        "updated": flag(row.updated),
        "dropped": flag(row.dropped),
        "department": row.department,
        "student_netid": row.student_netid,
        "faculty_netid": row.faculty_netid,
        "internal_comment": row.internal_comment,
        "student_rationale": row.student_rationale,
        "denial_reason": row.denial_reason,
        "prerequisites": row.prerequisites,
        "culminating_experience": row.culminating_experience,
        "approval_comment": row.approval_comment,
        "student_comments": row.student_comments,
        "db_name": row.db_name,
        "updated_at": timestamp(row.updated_at),
    }


def _lms_term(row: Any) -> Json | None:
    if row.lms_term_id is None:
        return None
    return {
        "id": row.lms_term_id,
        "name": row.lms_term_name,
        "is_course_send_enabled": bool(row.lms_is_course_send_enabled),
        "is_enroll_send_enabled": bool(row.lms_is_enroll_send_enabled),
    }


def _quarterly_term(row: Any, current_term_id: str | None) -> Json:
    return {
        "id": row.quarterly_term_id,
        "name": row.quarterly_term_name,
        "start_date": timestamp(row.quarterly_term_start_date),
        "end_date": timestamp(row.quarterly_term_end_date),
        "current_term_offset": calendar.offset(row.quarterly_term_id, current_term_id),
    }


def _term_description(row: Any) -> Json | None:
    if row.term_description_id is None:
        return None
    return {"id": row.term_description_id, "name": row.term_description_name}


def term(row: Any, current_term_id: str | None) -> Json:
    """One row of `GET /api/students/{netid}/terms` (seed 004). `is_active` and
    `current_term_offset` are computed against the term current when the request is answered."""
    return {
        "netid": row.netid,
        "term_id": row.term_id,
        "school_id": row.school_id,
        "is_active": current_term_id is not None and row.quarterly_term_id == current_term_id,
        "start_date": timestamp(row.start_date),
        "end_date": timestamp(row.end_date),
        "lms_term": _lms_term(row),
        "quarterly_term": _quarterly_term(row, current_term_id),
        "term_description": _term_description(row),
        "id": row.id,
    }


def dplan(row: Any) -> Json:
    """One D-plan, keyed as in the PATCH payload of seed 000."""
    return {
        "dplan_description": row.dplan_description,
        "dplan_source_id": row.dplan_source_id,
        "dplan_id": row.dplan_id,
        "dplan_source_description": row.dplan_source_description,
        "term_code": row.term_code,
    }


def full_name(row: Any) -> str:
    """Given, middle and family names, as GraphQL's `Student.name`."""
    return " ".join(p for p in (row.first_name, row.middle_name, row.last_name) if p)


def student(row: Any, dplans: Sequence[Any]) -> Json:
    """`GET /api/students/{netid}`: the student and its D-plans."""
    return {
        "netid": row.netid,
        "first_name": row.first_name,
        "middle_name": row.middle_name,
        "last_name": row.last_name,
        "name": full_name(row),
        "class_year": row.class_year,
        "school_code": row.school_code,
        "ferpa_protected": bool(row.ferpa_protected),
        "dplans": [dplan(d) for d in dplans],
    }
