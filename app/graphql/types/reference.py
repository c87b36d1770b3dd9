"""Reference types: the SIS quarterly term, part-of-term, LMS term, D-plan codes and sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.domain import terms as calendar


@strawberry.type(description="A quarterly SIS term (`201801` is Winter 2018).")
class SisTerm:
    id: str = strawberry.field(description="`YYYYMM`: 01 Winter, 03 Spring, 06 Summer, 09 Fall.")
    name: str = strawberry.field(description="`Winter Term 2018`.")
    start_date: datetime = strawberry.field(description="When the term begins.")
    end_date: datetime = strawberry.field(description="When the term ends (the next begins).")
    current_term_offset: int | None = strawberry.field(
        description="Terms between this one and the one in progress today (0 now, -1 the last); "
        "null when no term is in progress. Computed, never stored."
    )

    @classmethod
    def build(
        cls, id: str, name: str, start: datetime, end: datetime, current: str | None
    ) -> SisTerm:
        return cls(
            id=id,
            name=name,
            start_date=start,
            end_date=end,
            current_term_offset=calendar.offset(id, current),
        )

    @classmethod
    def from_row(cls, row: Any, current: str | None) -> SisTerm:
        return cls.build(row.id, row.name, row.start_date, row.end_date, current)


# Reference types look alike (an id, a name): each is a type of its own, as its table is.
@strawberry.type(description="A part-of-term code.")
class TermDescription:
    id: str = strawberry.field(description="The code (`U`).")
    name: str = strawberry.field(description="`Undergraduate full term`.")


@strawberry.type(description="The learning-management-system term a student term maps to.")
class LmsTerm:
    id: str = strawberry.field(description="`WI18`.")
    name: str = strawberry.field(description="`Winter Term 2018 (A&S)`.")
    is_course_send_enabled: bool = strawberry.field(description="Courses are sent to the LMS.")
    is_enroll_send_enabled: bool = strawberry.field(description="Enrollments are sent to the LMS.")


@strawberry.type(description="A D-plan value.")
class DplanCode:
    id: str = strawberry.field(description="The code (`R`).")
    description: str = strawberry.field(description="`Resident`.")


@strawberry.type(description="Where a D-plan came from.")
# The value lists look alike: each is a type of its own in the schema.
class DplanSource:
    id: str = strawberry.field(description="The code (`PHL`).")
    description: str = strawberry.field(description="`Registrar Action`.")
