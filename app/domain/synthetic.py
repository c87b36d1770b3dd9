"""Made-up but plausible student histories, from a seeded `random.Random`: the same seed gives
the same people. Shared by the demo set (a few dozen) and `generate` (hundreds of thousands).

An undergraduate of class Y matriculates in Fall Y-4, is in residence Fall/Winter/Spring and the
sophomore summer, takes an off term or two later on, and holds between 4 and 12 terms (the first
of that sequence). A graduate student holds consecutive terms, summers included. About a third
of a student's terms carry a D-plan. Plans: a major, often a minor or a second major, and now
and then a modified major (a `Modified` parent whose two children are the departmental majors).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain import terms as calendar
from app.domain.reference_data import lms_term_id


def _words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = _words(
    "Amara Benjamin Camila Daniel Elena Farah Gabriel Hana Isaac Jada Kenji Layla Mateo Nadia "
    "Omar Priya Quinn Rosa Samuel Tariq Uma Victor Wren Ximena Yusuf Zoe Aiden Beatriz Connor "
    "Dalia Ethan Fiona Grace Hugo Imani Jonah Keira Liam Maya Noah"
)
LAST_NAMES = _words(
    "Adeyemi Bergstrom Castillo Dubois Eriksen Fujimoto Gallagher Haddad Iyer Jablonski "
    "Kowalski Lindqvist Moreau Nakamura Okafor Petrov Quintero Rahman Santos Thibodeau "
    "Underwood Vasquez Whitfield Xu Yamamoto Zielinski Abernathy Brennan Chowdhury Delgado"
)
DEPARTMENTS = _words(
    "ANTH ARTH ASCL BIOL CHEM COSC ECON ENGL ENGS ENVS FREN GEOG GOVT HIST MATH MUS PHIL PHYS "
    "PSYC REL SOCY SPAN THEA WGSS"
)
# (code, source, weight): what a D-plan on a term the student holds usually says.
DPLAN_CHOICES = (
    ("R", "PHL", 60),
    ("R", "STU", 20),
    ("O", "OCP", 10),
    ("X", "OCP", 6),
    ("R", "DEA", 4),
)
# When a term's classes run, relative to the quarterly term: (month, day) start and end.
_CLASSES = {
    "01": ((1, 3), (3, 13)),
    "03": ((3, 25), (6, 5)),
    "06": ((6, 22), (8, 28)),
    "09": ((9, 12), (11, 22)),
}


def iso(when: datetime) -> str:
    """The REST timestamp form: UTC, whole seconds, a literal Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def class_period(term: str) -> tuple[datetime, datetime]:
    """When classes run in `term` (midnight US-Eastern, as the terms sample's 201801-U)."""
    year = int(term[:4])
    (m1, d1), (m2, d2) = _CLASSES[term[4:]]
    start = datetime(year, m1, d1, tzinfo=calendar.EASTERN).astimezone(UTC)
    return start, datetime(year, m2, d2, tzinfo=calendar.EASTERN).astimezone(UTC)


def quarterly(term: str) -> dict[str, Any]:
    """A quarterly term as the REST record shows it, with its LMS term id."""
    q = calendar.quarterly_term(term)
    return {
        "id": q.id,
        "name": q.name,
        "start_date": iso(q.start_date),
        "end_date": iso(q.end_date),
        "lms_id": lms_term_id(term),
    }


@dataclass
class StudentLife:
    """Who a student is, which terms they hold, and their D-plans (term, code, source, when)."""

    netid: str
    year: int | None  # class year; None for graduate students
    terms: list[str] = field(default_factory=list)
    dplans: list[tuple[str, str, str, datetime]] = field(default_factory=list)

    @property
    def graduate(self) -> bool:
        return self.year is None


def _undergraduate_terms(rng: random.Random, year: int) -> list[str]:
    sequence = []
    for y in range(year - 4, year):
        sequence += [f"{y}09", f"{y + 1}01", f"{y + 1}03"]
        if y == year - 3:
            sequence.append(f"{y + 1}06")  # sophomore summer
    for _ in range(rng.choice((1, 1, 2))):  # off terms, junior year on
        sequence.remove(rng.choice(sequence[7:]))
    return sequence[: rng.randint(4, 12)]


def _graduate_terms(rng: random.Random, first_year: int) -> list[str]:
    first = calendar.ordinal(f"{first_year}09")
    return [calendar.term_id_at(first + i) for i in range(rng.randint(4, 12))]


def life_of(
    rng: random.Random, netid: str, *, graduate: bool = False, years: tuple[int, int] = (2019, 2030)
) -> StudentLife:
    """A student's terms and D-plans; class year drawn from `years` (inclusive)."""
    year = rng.randint(*years)
    life = StudentLife(netid, None if graduate else year)
    life.terms = _graduate_terms(rng, year - 3) if graduate else _undergraduate_terms(rng, year)
    codes, weights = DPLAN_CHOICES, [w for *_, w in DPLAN_CHOICES]
    for term in sorted(rng.sample(life.terms, max(1, round(len(life.terms) / 3)))):
        code, source, _ = rng.choices(codes, weights)[0]
        when = calendar.term_start(term) - timedelta(days=rng.randint(20, 120), hours=rng.random())
        life.dplans.append((term, code, source, when.replace(microsecond=0)))
    return life


# A plan record: every field of the plans sample (the load format), as the sample has them.
def _plan(rng: random.Random, life: StudentLife, plan_id: int, **values: Any) -> dict[str, Any]:
    declared = calendar.term_start(f"{(life.year or 2020) - 2}03") + timedelta(
        days=rng.randint(0, 150), seconds=rng.randint(0, 86399)
    )
    plan: dict[str, Any] = {
        "id": plan_id,
        "type": "Major",
        "state": rng.choices(("declared", "pending", "approved"), (85, 10, 5))[0],
        "name": "",
        "parent_id": None,
        "updated": rng.random() < 0.1,
        "dropped": rng.random() < 0.04,
        "department": None,
        "student_netid": life.netid,
        "faculty_netid": f"d{rng.randrange(10**5):05d}{rng.choice('abcdefghjkmnpqrstuvwxyz')}",
        # The fields a synthetic plan leaves as a seed sample's plan has them (domain/samples.py):
        # the same values on purpose, so generated data looks like the real samples.
        "internal_comment": None,
        "student_rationale": None,
        "denial_reason": None,
        "prerequisites": "<p>All prerequisites have been satisfied</p>",
        "culminating_experience": "",
        "approval_comment": None,
        "student_comments": None,
        "db_name": "iron",
        "updated_at": declared.replace(microsecond=0),
    }
    plan.update(values)
    return plan


def _departmental(rng: random.Random, life: StudentLife, plan_id: int, kind: str) -> dict[str, Any]:
    dept = rng.choice(DEPARTMENTS)
    seminar = f"<p>{dept} 80: Senior Seminar</p>" if kind == "Major" else ""
    return _plan(
        rng,
        life,
        plan_id,
        type=kind,
        name=f"{dept}-{kind.upper()}",
        department=dept,
        culminating_experience=seminar,
    )


def major(rng: random.Random, life: StudentLife, plan_id: int) -> dict[str, Any]:
    """One departmental major, column-shaped."""
    return _departmental(rng, life, plan_id, "Major")


def _modified(rng: random.Random, life: StudentLife, first_id: int) -> list[dict[str, Any]]:
    a, b = rng.sample(DEPARTMENTS, 2)
    rationale = f"<p>The modified major will best allow me to combine {a} and {b}</p>"
    parent = _plan(
        rng,
        life,
        first_id,
        type="Modified",
        name=f"{a}:{b}",
        faculty_netid=None,
        student_rationale=rationale,
    )
    children = [
        _plan(
            rng,
            life,
            first_id + 1 + i,
            name=f"{d}-{a}:{b}",
            parent_id=first_id,
            department=d,
            student_rationale=rationale,
            state=parent["state"],
            updated_at=parent["updated_at"],
        )
        for i, d in enumerate((a, b))
    ]
    return [parent, *children]


def plans_of(rng: random.Random, life: StudentLife, first_id: int) -> list[dict[str, Any]]:
    """One to three plans, column-shaped (ids integers, flags booleans), ids from `first_id`."""
    roll = rng.random()
    if roll < 0.12:
        return _modified(rng, life, first_id)
    plans = [_departmental(rng, life, first_id, "Major")]
    if roll < 0.45:
        plans.append(_departmental(rng, life, first_id + 1, "Minor"))
    elif roll < 0.55:
        plans.append(_departmental(rng, life, first_id + 1, "Major"))
    return plans
