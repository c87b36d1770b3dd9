"""Synthetic data at scale, for benchmarks: `generate --students N [--seed S]`.

Rows are built in Python straight in column form (no JSON, no per-field checks: the builder
only makes valid rows) and bulk-upserted a chunk of students at a time, so memory stays flat and
100,000 students take minutes. The same seed gives the same rows, so running it again with that
seed changes nothing (rows of another seed's run are not removed).
Netids are `sg000001`, ... and plan ids start at 10,000,000, clear of the demo's.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.reference_data import lms_term_id
from app.domain.synthetic import (
    FIRST_NAMES,
    LAST_NAMES,
    StudentLife,
    class_period,
    life_of,
    plans_of,
)
from app.repositories.importer import ImportRepository
from app.repositories.reference import seed_missing_reference_data
from app.services.changes import TABLE_KINDS, Capture, key_of
from app.services.tasks import utcnow

NETID_PREFIX = "sg"
FIRST_PLAN_ID = 10_000_000
FERPA_SHARE = 0.03
GRADUATE_SHARE = 0.08
CLASS_YEARS = (2000, 2030)
WRITE_ORDER = ("students", "student_terms", "plans", "dplans")

Tables = dict[str, list[dict[str, Any]]]


def netid(index: int) -> str:
    return f"{NETID_PREFIX}{index + 1:06d}"


def _student(rng: random.Random, life: StudentLife) -> dict[str, Any]:
    return {
        "netid": life.netid,
        "first_name": rng.choice(FIRST_NAMES),
        "middle_name": rng.choice((None, None, "A", "J", "L", "M", "R")),
        "last_name": rng.choice(LAST_NAMES),
        "class_year": life.year,
        "school_code": "GR" if life.graduate else "UG",
        "ferpa_protected": rng.random() < FERPA_SHARE,
    }


def _terms(index: int, life: StudentLife) -> list[dict[str, Any]]:
    part = "G" if life.graduate else "U"
    rows = []
    for k, term in enumerate(life.terms):
        start, end = class_period(term)
        rows.append(
            {
                "id": f"a0{index:010x}{k:012x}",  # 24 hex digits, unique per (student, term)
                "netid": life.netid,
                "term_id": f"{term}-{part}",
                "school_id": "GR" if life.graduate else "UG",
                "start_date": start,
                "end_date": end,
                "lms_term_id": lms_term_id(term),
                "quarterly_term_id": term,
                "term_description_id": part,
            }
        )
    return rows


def _dplans(life: StudentLife) -> list[dict[str, Any]]:
    return [
        {"netid": life.netid, "term_code": t, "dplan_id": c, "dplan_source_id": s, "updated_at": at}
        for t, c, s, at in life.dplans
    ]


def build_chunk(rng: random.Random, first: int, count: int) -> Tables:
    """Rows for students `first` .. `first + count - 1` (by index), drawn from `rng` in order."""
    tables: Tables = {name: [] for name in WRITE_ORDER}
    for index in range(first, first + count):
        graduate = rng.random() < GRADUATE_SHARE
        life = life_of(rng, netid(index), graduate=graduate, years=CLASS_YEARS)
        tables["students"].append(_student(rng, life))
        tables["student_terms"] += _terms(index, life)
        tables["plans"] += plans_of(rng, life, FIRST_PLAN_ID + 3 * index)  # at most 3 each
        tables["dplans"] += _dplans(life)
    return tables


async def generate(
    session: AsyncSession,
    *,
    students: int,
    seed: int = 0,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
    capture: bool = True,
) -> dict[str, int]:
    """Upsert `students` synthetic students with their terms, plans and D-plans (after making
    sure the reference data they name exists), each record changed a change entry (`generate`)
    with `capture`. Returns the row counts. Never commits."""
    await seed_missing_reference_data(session)
    rng = random.Random(seed)  # noqa: S311 (made-up data; seeded so runs repeat)
    repo = ImportRepository(session)
    totals: Counter[str] = Counter()
    for first in range(0, students, chunk):
        tables = build_chunk(rng, first, min(chunk, students - first))
        changes = Capture(session, utcnow(), enabled=capture)
        for name in WRITE_ORDER:  # parents first: a chunk's plans list each parent first
            kind = TABLE_KINDS[name]
            keys = {key_of(kind, row) for row in tables[name]}
            before = await changes.before(kind, keys)
            await repo.upsert(name, tables[name])
            await changes.after(kind, keys, before, lambda _key: "generate")
            totals[name] += len(tables[name])
        await changes.flush()  # a chunk's entries at a time: memory stays flat
        if progress:
            progress(first + len(tables["students"]))
    return dict(totals)
