"""Validation of a D-plan PATCH payload, with no I/O: the caller passes the known ids.

Every problem is collected and named (`dplans[1].dplan_source_id`), so one 422 tells the caller
everything to fix at once."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from app.errors import Invalid, Problem

REQUIRED_FIELDS = ("dplan_id", "dplan_source_id", "term_code")
IGNORED_FIELDS = ("dplan_description", "dplan_source_description")
MAX_DPLANS = 100
# The description fields are ignored but kept in the task as sent (the task record shows the
# payload, as the seed's does): each is a printable string (or null) of at most the length of
# the descriptions the reference tables hold, so a task's payload has a bound (README: *Writes,
# tasks and workers*).
MAX_DESCRIPTION_CHARS = 128
# The payload as the task stores it (the JSON text the database keeps: ASCII, non-ASCII escaped
# as \uXXXX). 100 entries with ASCII descriptions of 128 characters take about 38 KiB; only
# bodies full of escaped characters come near this.
MAX_PAYLOAD_BYTES = 64 * 1024
# What accepting a task draws from the caller's budget (README: The budget per caller), per
# D-plan it carries: a task is kept for TASKS_RETENTION_DAYS whoever reads it, so its cost follows
# what it stores (at most about 420 bytes a D-plan), not the 1 of a field that returns one object.
TASK_COST_PER_DPLAN = 10


def task_cost(entries: Any) -> int:
    """The cost of accepting the D-plans `entries` (a list as sent; anything else, which is
    refused, as one)."""
    count = len(entries) if isinstance(entries, list) else 1
    return TASK_COST_PER_DPLAN * max(1, min(count, MAX_DPLANS))


@dataclass(frozen=True)
class DplanChange:
    """One D-plan to set: the value for one term of one student."""

    term_code: str
    dplan_id: str
    dplan_source_id: str


@dataclass(frozen=True)
class KnownIds:
    """The ids a payload may name: D-plan codes, D-plan sources, SIS terms."""

    codes: Collection[str]
    sources: Collection[str]
    terms: Collection[str]


def _entries(body: Any, problems: list[Problem]) -> list[Any]:
    if not isinstance(body, dict):
        problems.append(Problem("body", 'must be a JSON object like {"dplans": [...]}'))
        return []
    for key in body:
        if key != "dplans":
            problems.append(Problem(str(key), "unknown field; PATCH is limited to dplans"))
    entries = body.get("dplans")
    if entries is None:
        problems.append(Problem("dplans", "required"))
    elif not isinstance(entries, list):
        problems.append(Problem("dplans", "must be a list of dplans"))
    elif not entries:
        problems.append(Problem("dplans", "must hold at least one dplan"))
    elif len(entries) > MAX_DPLANS:
        problems.append(Problem("dplans", f"at most {MAX_DPLANS} dplans per request"))
    else:
        return entries
    return []


def check_shape(body: Any) -> None:
    """`Invalid` naming what is wrong with the body's shape (not an object, a field other than
    `dplans`, no list, an empty one, more than MAX_DPLANS entries): checked before anything is
    looked up, so a body of 40,000 entries never reaches the database."""
    problems: list[Problem] = []
    _entries(body, problems)
    if problems:
        raise Invalid("the dplans are not valid", problems)


def term_codes_in(body: Any) -> list[str]:
    """The string term codes a payload names, to look up before `validate_dplans`."""
    entries = body.get("dplans") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []
    codes = (e.get("term_code") for e in entries if isinstance(e, dict))
    return sorted({c for c in codes if isinstance(c, str)})


def _unknown(field: str, value: str, known: KnownIds) -> str | None:
    if field == "dplan_id" and value not in known.codes:
        return f"{value!r} is not a known D-plan code"
    if field == "dplan_source_id" and value not in known.sources:
        return f"{value!r} is not a known D-plan source"
    if field == "term_code" and value not in known.terms:
        return f"{value!r} is not a known SIS term code (YYYYMM, month 01, 03, 06 or 09)"
    return None


def _description_problem(value: Any) -> str | None:
    if value is None or (
        isinstance(value, str) and len(value) <= MAX_DESCRIPTION_CHARS and value.isprintable()
    ):
        return None
    return f"ignored, but must be a printable string of at most {MAX_DESCRIPTION_CHARS} characters"


def _entry(loc: str, entry: Any, known: KnownIds, problems: list[Problem]) -> DplanChange | None:
    if not isinstance(entry, dict):
        problems.append(Problem(loc, "must be an object"))
        return None
    before = len(problems)
    for key in entry:
        if key not in REQUIRED_FIELDS and key not in IGNORED_FIELDS:
            problems.append(Problem(f"{loc}.{key}", "unknown field"))
    for field in IGNORED_FIELDS:
        if (message := _description_problem(entry.get(field))) is not None:
            problems.append(Problem(f"{loc}.{field}", message))
    for field in REQUIRED_FIELDS:
        value = entry.get(field)
        if value is None:
            problems.append(Problem(f"{loc}.{field}", "required"))
        elif not isinstance(value, str):
            problems.append(Problem(f"{loc}.{field}", "must be a string"))
        elif (message := _unknown(field, value, known)) is not None:
            problems.append(Problem(f"{loc}.{field}", message))
    if len(problems) > before:
        return None
    return DplanChange(entry["term_code"], entry["dplan_id"], entry["dplan_source_id"])


def _duplicate(loc: str, index: int, entry: Any, first: dict[str, int]) -> Problem | None:
    term = entry.get("term_code") if isinstance(entry, dict) else None
    if not isinstance(term, str):
        return None
    if term in first:
        return Problem(f"{loc}.term_code", f"term {term} is also set by dplans[{first[term]}]")
    first[term] = index
    return None


def validate_dplans(body: Any, known: KnownIds) -> list[DplanChange]:
    """The changes a PATCH body asks for; `Invalid` naming every bad entry and field otherwise."""
    problems: list[Problem] = []
    changes: list[DplanChange] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(_entries(body, problems)):
        loc = f"dplans[{index}]"
        change = _entry(loc, entry, known, problems)
        duplicate = _duplicate(loc, index, entry, first_index)
        if duplicate is not None:
            problems.append(duplicate)
        elif change is not None:
            changes.append(change)
    if not problems and len(json.dumps(body)) > MAX_PAYLOAD_BYTES:
        message = f"at most {MAX_PAYLOAD_BYTES} bytes of JSON as stored (non-ASCII as \\uXXXX)"
        problems.append(Problem("dplans", message))
    if problems:
        raise Invalid("the dplans are not valid", problems)
    return changes
