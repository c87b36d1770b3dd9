"""The `load` file format, checked without touching the database.

One JSON object whose optional lists hold records in exactly the shape the REST routes return
(README "Loading data"). `parse_document` turns it into rows ready to write, keyed by column, or
names every problem it finds as `list[index].field: message`. Whether a referenced term, student,
code or parent plan exists in the database is the importer service's question, not this one's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.domain.load_values import (
    BadValue,
    anything,
    boolean,
    describe,
    digits,
    flag,
    hex24,
    integer,
    key,
    string,
    term_code,
    timestamp,
)
from app.errors import Problem

_TEXT = 100_000  # a sanity bound for the free-text (TEXT) columns

# --- record specs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One key of a record: how to check it and which column it fills (None: accepted, ignored).
    `record` reads a nested object; `items` a list of nested objects."""

    check: Callable[[Any], Any] = anything
    column: str | None = None
    required: bool = True
    nullable: bool = False
    record: dict[str, Field] | None = None
    items: dict[str, Field] | None = None


def col(check: Callable[[Any], Any], name: str, *, nullable: bool = False) -> Field:
    return Field(check, name, nullable=nullable)


IGNORED = Field(required=False, nullable=True)

CODE = {"id": col(key(8), "id"), "description": col(string(128), "description")}
SIS_TERM = {
    "id": col(term_code, "id"),
    "name": col(string(64), "name"),
    "start_date": col(timestamp, "start_date"),
    "end_date": col(timestamp, "end_date"),
    "current_term_offset": IGNORED,
}
LMS_TERM = {
    "id": col(key(16), "id"),
    "name": col(string(128), "name"),
    "is_course_send_enabled": col(boolean, "is_course_send_enabled"),
    "is_enroll_send_enabled": col(boolean, "is_enroll_send_enabled"),
}
TERM_DESCRIPTION = {"id": col(key(8), "id"), "name": col(string(128), "name")}
# A student term names its quarterly term; the term's own fields come from `sis_terms`.
QUARTERLY_REF = {
    "id": col(term_code, "id"),
    "name": Field(string(64), required=False),
    "start_date": Field(timestamp, required=False),
    "end_date": Field(timestamp, required=False),
    "current_term_offset": IGNORED,
}
STUDENT_TERM = {
    "netid": col(key(16), "netid"),
    "term_id": col(key(16), "term_id"),
    "school_id": col(string(16), "school_id", nullable=True),
    "is_active": IGNORED,
    "start_date": col(timestamp, "start_date", nullable=True),
    "end_date": col(timestamp, "end_date", nullable=True),
    "lms_term": Field(record=LMS_TERM, nullable=True),
    "quarterly_term": Field(record=QUARTERLY_REF),
    "term_description": Field(record=TERM_DESCRIPTION, nullable=True),
    "id": col(hex24, "id"),
}
PLAN = {
    "id": col(digits, "id"),
    "type": col(key(32), "type"),
    "state": col(key(32), "state"),
    "name": col(string(128), "name"),
    "parent_id": col(integer, "parent_id", nullable=True),
    "updated": col(flag, "updated"),
    "dropped": col(flag, "dropped"),
    "department": col(string(16), "department", nullable=True),
    "student_netid": col(key(16), "student_netid"),
    "faculty_netid": col(string(16), "faculty_netid", nullable=True),
    **{
        name: col(string(_TEXT), name, nullable=True)
        for name in (
            "internal_comment",
            "student_rationale",
            "denial_reason",
            "prerequisites",
            "culminating_experience",
            "approval_comment",
            "student_comments",
        )
    },
    "db_name": col(string(32), "db_name", nullable=True),
    "updated_at": col(timestamp, "updated_at", nullable=True),
}
# The PATCH payload's D-plan entry (seed 000), plus an optional `updated_at` to keep history.
DPLAN_ENTRY = {
    "term_code": col(term_code, "term_code"),
    "dplan_id": col(key(8), "dplan_id"),
    "dplan_source_id": col(key(8), "dplan_source_id"),
    "dplan_description": IGNORED,
    "dplan_source_description": IGNORED,
    "updated_at": Field(timestamp, "updated_at", required=False, nullable=True),
}
DPLAN = {"netid": col(key(16), "netid"), **DPLAN_ENTRY}
STUDENT = {
    "netid": col(key(16), "netid"),
    "first_name": col(string(128), "first_name"),
    "middle_name": col(string(128), "middle_name", nullable=True),
    "last_name": col(string(128), "last_name"),
    "name": IGNORED,
    "class_year": col(integer, "class_year", nullable=True),
    "school_code": col(string(16), "school_code", nullable=True),
    "ferpa_protected": col(boolean, "ferpa_protected"),
    "dplans": Field(items=DPLAN_ENTRY, required=False),
}
LISTS: dict[str, dict[str, Field]] = {
    "sis_terms": SIS_TERM,
    "dplan_codes": CODE,
    "dplan_sources": CODE,
    "students": STUDENT,
    "student_terms": STUDENT_TERM,
    "plans": PLAN,
    "dplans": DPLAN,
}


# --- reading ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One record ready to write: where it came from (`plans[3]`) and its column values."""

    loc: str
    values: dict[str, Any]


@dataclass
class LoadDocument:
    """Every table's rows, each list free of duplicate keys, plans ordered parents first."""

    sis_terms: list[Row] = field(default_factory=list)
    dplan_codes: list[Row] = field(default_factory=list)
    dplan_sources: list[Row] = field(default_factory=list)
    students: list[Row] = field(default_factory=list)
    lms_terms: list[Row] = field(default_factory=list)
    term_descriptions: list[Row] = field(default_factory=list)
    student_terms: list[Row] = field(default_factory=list)
    plans: list[Row] = field(default_factory=list)
    dplans: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in vars(self).items()}


Adder = Callable[[LoadDocument, str, dict[str, Any], list[Problem]], None]
"""Adds one checked record (at `loc`) to the document, perhaps noting problems across records."""


def _unknown_key(name: str, spec: dict[str, Field]) -> str:
    close = difflib.get_close_matches(name, list(spec), n=1)
    return f"unknown field (did you mean {close[0]!r}?)" if close else "unknown field"


def read_record(
    raw: Any, spec: dict[str, Field], loc: str, problems: list[Problem]
) -> dict[str, Any] | None:
    """The record's values by key (nested records as dicts), or None after adding problems."""
    if not isinstance(raw, dict):
        problems.append(Problem(loc, f"expected an object, got {describe(raw)}"))
        return None
    before = len(problems)
    problems.extend(Problem(f"{loc}.{k}", _unknown_key(k, spec)) for k in raw if k not in spec)
    out: dict[str, Any] = {}
    for name, f in spec.items():
        where = f"{loc}.{name}"
        if name not in raw:
            if f.required:
                problems.append(Problem(where, "required field is missing"))
            continue
        out[name] = _read_value(raw[name], f, where, problems)
    return out if len(problems) == before else None


def _read_value(value: Any, f: Field, loc: str, problems: list[Problem]) -> Any:
    if value is None:
        if not f.nullable:
            problems.append(Problem(loc, "must not be null"))
        return None
    if f.record is not None:
        return read_record(value, f.record, loc, problems)
    if f.items is not None:
        if not isinstance(value, list):
            problems.append(Problem(loc, f"expected a list, got {describe(value)}"))
            return None
        items = f.items
        return [read_record(v, items, f"{loc}[{i}]", problems) for i, v in enumerate(value)]
    try:
        return f.check(value)
    except BadValue as exc:
        problems.append(Problem(loc, str(exc)))
        return None


def columns(values: dict[str, Any], spec: dict[str, Field]) -> dict[str, Any]:
    """The stored columns of a checked record (ignored and nested keys dropped)."""
    return {f.column: values.get(name) for name, f in spec.items() if f.column}


def _add_sis_terms(doc: LoadDocument, loc: str, values: dict[str, Any], p: list[Problem]) -> None:
    if values["start_date"] >= values["end_date"]:
        p.append(Problem(f"{loc}.end_date", "must be after start_date"))
        return
    doc.sis_terms.append(Row(loc, columns(values, SIS_TERM)))


def _add_student(doc: LoadDocument, loc: str, values: dict[str, Any], _p: list[Problem]) -> None:
    doc.students.append(Row(loc, columns(values, STUDENT)))
    for i, entry in enumerate(values.get("dplans") or []):
        row = Row(f"{loc}.dplans[{i}]", {"netid": values["netid"], **columns(entry, DPLAN_ENTRY)})
        doc.dplans.append(row)


def _add_nested(
    rows: list[Row], seen: dict[str, Row], loc: str, values: dict[str, Any], p: list[Problem]
) -> None:
    """A nested LMS term or part-of-term code: written once; the same id must mean the same row."""
    first = seen.get(values["id"])
    if first is None:
        seen[values["id"]] = row = Row(loc, values)
        rows.append(row)
    elif first.values != values:
        p.append(Problem(loc, f"{values['id']!r} differs from the one at {first.loc}"))


def _student_term_adder() -> Adder:
    lms: dict[str, Row] = {}
    descriptions: dict[str, Row] = {}

    def add(doc: LoadDocument, loc: str, values: dict[str, Any], p: list[Problem]) -> None:
        row = columns(values, STUDENT_TERM)
        row["quarterly_term_id"] = values["quarterly_term"]["id"]
        row["lms_term_id"] = row["term_description_id"] = None
        if values["lms_term"] is not None:
            row["lms_term_id"] = values["lms_term"]["id"]
            _add_nested(doc.lms_terms, lms, f"{loc}.lms_term", values["lms_term"], p)
        if values["term_description"] is not None:
            row["term_description_id"] = values["term_description"]["id"]
            nested = columns(values["term_description"], TERM_DESCRIPTION)
            _add_nested(doc.term_descriptions, descriptions, f"{loc}.term_description", nested, p)
        doc.student_terms.append(Row(loc, row))

    return add


def _adder(attr: str, spec: dict[str, Field]) -> Adder:
    def add(doc: LoadDocument, loc: str, values: dict[str, Any], _p: list[Problem]) -> None:
        getattr(doc, attr).append(Row(loc, columns(values, spec)))

    return add


# (the key columns that must be unique within a table, what a person calls one row)
_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "sis_terms": (("id",), "SIS term {}"),
    "dplan_codes": (("id",), "D-plan code {}"),
    "dplan_sources": (("id",), "D-plan source {}"),
    "students": (("netid",), "student {}"),
    "student_terms": (("id",), "student term {}"),
    "plans": (("id",), "plan {}"),
    "dplans": (("netid", "term_code"), "the D-plan of {} for {}"),
}


def _no_duplicates(doc: LoadDocument, problems: list[Problem]) -> None:
    for attr, (keys, what) in _KEYS.items():
        first: dict[tuple[Any, ...], str] = {}
        for row in getattr(doc, attr):
            k = tuple(row.values[c] for c in keys)
            if k in first:
                name = what.format(*k)
                problems.append(Problem(f"{row.loc}.{keys[-1]}", f"{name} is also at {first[k]}"))
            else:
                first[k] = row.loc


def parents_first(plans: list[Row], problems: list[Problem]) -> list[Row]:
    """Plans ordered so a parent in the file precedes its children; a cycle is a problem."""
    by_id = {row.values["id"]: row for row in plans}
    depth: dict[int, int] = {}
    for row in plans:
        path: list[int] = []
        node = row.values["id"]
        while node in by_id and node not in depth and node not in path:
            path.append(node)
            node = by_id[node].values["parent_id"]
        if node in path:
            cycle = [*path[path.index(node) :], node]
            loop = " -> ".join(str(n) for n in cycle)
            problems.append(Problem(f"{by_id[node].loc}.parent_id", f"plans form a cycle: {loop}"))
        base = depth.get(node, -1) if node not in path else -1
        for step, plan_id in enumerate(reversed(path), start=1):
            depth[plan_id] = base + step
    return sorted(plans, key=lambda r: depth[r.values["id"]])


def parse_document(raw: Any) -> tuple[LoadDocument, list[Problem]]:
    """Check a decoded file. Returns the rows to write and every problem found (none: valid)."""
    doc, problems = LoadDocument(), []
    if not isinstance(raw, dict):
        problems.append(Problem("", f"the file must hold one JSON object, got {describe(raw)}"))
        return doc, problems
    for name in raw:
        if name not in LISTS:
            problems.append(Problem(name, f"unknown list; expected some of {', '.join(LISTS)}"))
    adders: dict[str, Adder] = {
        "sis_terms": _add_sis_terms,
        "dplan_codes": _adder("dplan_codes", CODE),
        "dplan_sources": _adder("dplan_sources", CODE),
        "students": _add_student,
        "student_terms": _student_term_adder(),
        "plans": _adder("plans", PLAN),
        "dplans": _adder("dplans", DPLAN),
    }
    for name, spec in LISTS.items():
        for loc, values in _records(raw, name, problems):
            checked = read_record(values, spec, loc, problems)
            if checked is not None:
                adders[name](doc, loc, checked, problems)
    _no_duplicates(doc, problems)
    doc.plans = parents_first(doc.plans, problems)
    return doc, problems


def _records(raw: dict[str, Any], name: str, problems: list[Problem]) -> Iterable[tuple[str, Any]]:
    items = raw.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(Problem(name, f"expected a list, got {describe(items)}"))
        return []
    return [(f"{name}[{i}]", item) for i, item in enumerate(items)]
