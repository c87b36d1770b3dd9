"""The demo data set: a `load`-format document built from every sample in the seed documents,
with the samples' own ids and values, plus ~40 other students so the API has something to show.

`f000abc` holds exactly the two terms of the terms sample (seed 004), `f0027k4` exactly the four
plans of the plans sample (seed 003) and the two D-plans of the successful-task sample (seed 000),
and `f00000x` is the student the PATCH sample is sent to (seed 000), with no D-plans yet so that
the sample request visibly adds them. The others are built from a fixed random seed: the same
document every time.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from app.domain.reference_data import DPLAN_CODES, DPLAN_SOURCES
from app.domain.samples import PLANS_SAMPLE, TERMS_SAMPLE
from app.domain.synthetic import (
    FIRST_NAMES,
    LAST_NAMES,
    StudentLife,
    class_period,
    iso,
    life_of,
    major,
    plans_of,
    quarterly,
)

Json = dict[str, Any]

SAMPLE_PLANS = copy.deepcopy(PLANS_SAMPLE)
SAMPLE_TERMS = copy.deepcopy(TERMS_SAMPLE)
# The successful task's payload (seed 000), as f0027k4's D-plans, dated when the task completed.
SAMPLE_DPLANS = [
    {
        "netid": "f0027k4",
        "dplan_description": "Resident",
        "dplan_source_id": "PHL",
        "dplan_id": "R",
        "dplan_source_description": "Registrar Action",
        "term_code": term_code,
        "updated_at": "2023-02-20T14:34:11Z",
    }
    for term_code in ("202501", "202503")
]


def _student(netid: str, first: str, middle: str | None, last: str, year: int | None) -> Json:
    return {
        "netid": netid,
        "first_name": first,
        "middle_name": middle,
        "last_name": last,
        "class_year": year,
        "school_code": "UG" if year else "GR",
        "ferpa_protected": False,
    }


SAMPLE_STUDENTS = [
    _student("f000abc", "Avery", "J", "Abbott", 2021),
    _student("f0027k4", "Kiran", None, "Kapoor", 2025),
    _student("f00000x", "Xavier", "T", "Xiong", 2024),
]


def _term_record(life: StudentLife, term: str, term_id: str) -> Json:
    q = quarterly(term)
    start, end = class_period(term)
    part = "G" if life.graduate else "U"
    return {
        "netid": life.netid,
        "term_id": f"{term}-{part}",
        "school_id": "GR" if life.graduate else "UG",
        "start_date": iso(start),
        "end_date": iso(end),
        "lms_term": {
            "id": q["lms_id"],
            "name": f"{q['name']} (A&S)",
            "is_course_send_enabled": False,
            "is_enroll_send_enabled": False,
        },
        "quarterly_term": {k: q[k] for k in ("id", "name", "start_date", "end_date")},
        "term_description": {
            "id": part,
            "name": "Graduate full term" if life.graduate else "Undergraduate full term",
        },
        "id": term_id,
    }


def _plan_record(plan: dict[str, Any]) -> Json:
    """A column-shaped plan as the REST record shows it."""
    flags = {k: "Y" if plan[k] else "N" for k in ("updated", "dropped")}
    return {**plan, **flags, "id": str(plan["id"]), "updated_at": iso(plan["updated_at"])}


_NETID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _netid(rng: random.Random, taken: set[str]) -> str:
    """A fresh netid shaped like the samples' (`f0027k4`)."""
    while True:
        netid = "f00" + "".join(rng.choice(_NETID_CHARS) for _ in range(4))
        if netid not in taken:
            taken.add(netid)
            return netid


def _terms_of(life: StudentLife, rng: random.Random, n: int) -> list[Json]:
    """Term records of `life`; ids shaped like the samples' and unique per (student n, term)."""
    return [
        _term_record(life, t, f"5d73{n:04x}{i:04x}{rng.randrange(16**12):012x}")
        for i, t in enumerate(life.terms)
    ]


def _nested_dplans(life: StudentLife) -> list[Json]:
    return [
        {"term_code": t, "dplan_id": code, "dplan_source_id": source, "updated_at": iso(at)}
        for t, code, source, at in life.dplans
    ]


def _others(count: int, rng: random.Random) -> tuple[list[Json], list[Json], list[Json]]:
    """`count` students (with their D-plans nested), their terms and their plans."""
    students, terms, plans = [], [], []
    taken = {s["netid"] for s in SAMPLE_STUDENTS}
    names = rng.sample([(f, last) for f in FIRST_NAMES for last in LAST_NAMES], count)
    for n, (first, last) in enumerate(names, start=1):
        life = life_of(rng, _netid(rng, taken), graduate=n % 12 == 0)
        record = _student(life.netid, first, rng.choice([None, "A", "M", "R"]), last, life.year)
        record["ferpa_protected"] = n % 10 == 4  # four of forty
        record["dplans"] = _nested_dplans(life)
        students.append(record)
        terms += _terms_of(life, rng, n)
        plans += [_plan_record(p) for p in plans_of(rng, life, 21000 + 10 * n)]
    return students, terms, plans


# f0027k4 is resident in the terms of its sample D-plans (202501, 202503); f00000x in those of
# the PATCH sample (202301, 202303), which it has no D-plans for yet.
_K4_TERMS = "202109 202201 202203 202209 202301 202303 202306 202309 202403 202409 202501 202503"
_X_TERMS = "202009 202101 202103 202109 202201 202206 202209 202301 202303 202309 202401 202403"


def _sample_students(rng: random.Random) -> tuple[list[Json], list[Json], list[Json]]:
    """The seed samples' students: the sample rows, plus terms for f0027k4 and f00000x and a
    major for f000abc and f00000x; nothing more (see the module docstring)."""
    abc = StudentLife("f000abc", 2021)
    k4 = StudentLife("f0027k4", 2025, terms=_K4_TERMS.split())
    x = StudentLife("f00000x", 2024, terms=_X_TERMS.split())
    terms = SAMPLE_TERMS + _terms_of(k4, rng, 0) + _terms_of(x, rng, 0xFFFF)
    plans = [_plan_record(major(rng, abc, 21000)), _plan_record(major(rng, x, 21005))]
    return [dict(s) for s in SAMPLE_STUDENTS], terms, SAMPLE_PLANS + plans


def _sis_terms(student_terms: list[Json], dplans: list[Json]) -> list[Json]:
    """Every quarterly term the document names: the samples' as they show them, others from the
    calendar, so the demo loads even where `sis_terms` were replaced."""
    used = {t["quarterly_term"]["id"] for t in student_terms} | {d["term_code"] for d in dplans}
    records = {t["quarterly_term"]["id"]: t["quarterly_term"] for t in SAMPLE_TERMS}
    for term in sorted(used - set(records)):
        records[term] = {k: v for k, v in quarterly(term).items() if k != "lms_id"}
    return [records[t] for t in sorted(records)]


def demo_document(others: int = 40) -> Json:
    """The demo set as a `load` document: the seed samples plus `others` made-up students."""
    rng = random.Random(2019)  # noqa: S311 (made-up data; fixed so the demo never changes)
    students, terms, plans = _sample_students(rng)
    more_students, more_terms, more_plans = _others(others, rng)
    nested = [dict(d, netid=s["netid"]) for s in more_students for d in s["dplans"]]
    return {
        "sis_terms": _sis_terms(terms + more_terms, SAMPLE_DPLANS + nested),
        "dplan_codes": DPLAN_CODES,
        "dplan_sources": DPLAN_SOURCES,
        "students": students + more_students,
        "student_terms": terms + more_terms,
        "plans": plans + more_plans,
        "dplans": SAMPLE_DPLANS,
    }
