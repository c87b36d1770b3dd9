"""The SIS quarterly term calendar.

A quarterly term id is `YYYYMM` with MM one of 01 (Winter), 03 (Spring), 06 (Summer), 09 (Fall).
Terms are contiguous: each ends the instant the next begins, at midnight US-Eastern. Winter runs
from 16 December to 15 March, as in the terms sample (201801: 2017-12-16T05:00:00Z to
2018-03-15T04:00:00Z); Spring to 15 June, Summer to 15 September, Fall to 16 December.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
SEASON_MONTHS = ("01", "03", "06", "09")
SEASON_NAMES = {"01": "Winter", "03": "Spring", "06": "Summer", "09": "Fall"}
# (month, day) each term starts on, and how many years before the term's own year.
_STARTS = {"01": (12, 16, -1), "03": (3, 15, 0), "06": (6, 15, 0), "09": (9, 15, 0)}
_TERM_ID = re.compile(r"^(\d{4})(01|03|06|09)$")


@dataclass(frozen=True)
class QuarterlyTerm:
    id: str
    name: str
    start_date: datetime
    end_date: datetime


def is_term_id(value: str) -> bool:
    return bool(_TERM_ID.match(value))


@lru_cache(maxsize=1024)  # a few hundred terms exist; offsets are computed for every row shown
def ordinal(term_id: str) -> int:
    """Position of a term in the calendar; consecutive terms differ by one."""
    match = _TERM_ID.match(term_id)
    if not match:
        raise ValueError(f"not a quarterly term id: {term_id!r}")
    return int(match.group(1)) * 4 + SEASON_MONTHS.index(match.group(2))


def term_id_at(position: int) -> str:
    year, season = divmod(position, 4)
    return f"{year:04d}{SEASON_MONTHS[season]}"


def offset(term_id: str, current_term_id: str | None) -> int | None:
    """Steps from the current term to `term_id` (negative in the past); None when no term is
    current (today falls outside the calendar)."""
    if current_term_id is None:
        return None
    return ordinal(term_id) - ordinal(current_term_id)


def term_start(term_id: str) -> datetime:
    year = int(term_id[:4])
    month, day, year_shift = _STARTS[term_id[4:]]
    local = datetime(year + year_shift, month, day, tzinfo=EASTERN)
    return local.astimezone(UTC)


def quarterly_term(term_id: str) -> QuarterlyTerm:
    following = term_id_at(ordinal(term_id) + 1)
    name = f"{SEASON_NAMES[term_id[4:]]} Term {term_id[:4]}"
    return QuarterlyTerm(term_id, name, term_start(term_id), term_start(following))


def calendar(first_year: int, last_year: int) -> list[QuarterlyTerm]:
    """Every quarterly term from Winter of `first_year` to Fall of `last_year`."""
    first, last = ordinal(f"{first_year}01"), ordinal(f"{last_year}09")
    return [quarterly_term(term_id_at(p)) for p in range(first, last + 1)]
