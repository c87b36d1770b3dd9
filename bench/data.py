"""The benchmark's database: a fresh SQLite file, or a PostgreSQL database the bench owns, migrated
and filled with N generated students.

The data comes from `python -m app generate --students N --seed S` when the app has that command;
until then (and with `--builder bench`) from the small builder below, which writes the same tables
with SQLAlchemy Core bulk inserts. Both are deterministic for a given seed."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_engine, create_sessionmaker, transaction
from app.domain import terms as calendar
from app.domain.reference_data import lms_term_id
from app.migrate import upgrade
from app.models import AcademicPlan, Base, Student, StudentDplan, StudentTerm
from app.repositories.reference import seed_missing_reference_data

DEPARTMENTS = ["ECON", "GOVT", "COSC", "MATH", "HIST", "BIOL", "CHEM", "ENGL", "PHYS", "PSYC"]
DPLAN_CODES = ["R", "R", "R", "L", "O", "X"]
DPLAN_SOURCES = ["PHL", "STU", "OCP"]
CHUNK = 2000


@dataclass
class Dataset:
    source: str
    counts: dict[str, int]
    sample_netid: str


def generate_command_exists() -> bool:
    from app.cli import build_parser

    commands = next(
        a
        for a in build_parser()._actions
        if a.dest == "command"  # argparse has no public API
    )
    return "generate" in (getattr(commands, "choices", None) or {})


def migrate(url: str) -> None:
    """Schema to head (sync: Alembic runs its own event loop)."""
    upgrade(url)


async def reset(settings: Settings) -> None:
    """Empty every table (PostgreSQL; a SQLite file is new) and add the reference data."""
    engine = create_engine(settings)
    try:
        if not settings.is_sqlite:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_missing_reference_data(session)
    finally:
        await engine.dispose()


BENCH_MARK = "studentgraph bench: emptied and refilled by python -m bench"


async def claim_postgres_database(url: str) -> bool:
    """Create the named database (marked as the bench's, by a comment) if it does not exist.
    True when the database is the bench's to empty: created now, or marked earlier."""
    import asyncpg

    parsed = make_url(url)
    name = parsed.database or ""
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database="postgres",
    )
    try:
        mark = await admin.fetchrow(
            "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database"
            " WHERE datname = $1",
            name,
        )
        if mark is None:
            quoted = '"' + name.replace('"', '""') + '"'
            await admin.execute(f"CREATE DATABASE {quoted}")
            await admin.execute(f"COMMENT ON DATABASE {quoted} IS '{BENCH_MARK}'")
            return True
        return bool(mark["mark"] == BENCH_MARK)
    finally:
        await admin.close()


def run_generate_command(url: str, students: int, seed: int) -> None:
    env = {"DATABASE_URL": url, "ENVIRONMENT": "development", "LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, "-m", "app", "generate", "--students", str(students), "--seed", str(seed)],
        check=True,
        env={**os.environ, **env},
    )


def _student_rows(rng: random.Random, n: int) -> dict[str, list[dict[str, Any]]]:
    """One student's rows in every table: 4-12 contiguous terms, 1-3 plans, a D-plan for most
    of their terms."""
    netid = f"s{n:06d}"
    class_year = rng.randint(2016, 2028)
    first = calendar.ordinal(f"{class_year - 4}09")
    held = [calendar.term_id_at(first + i) for i in range(rng.randint(4, 12))]
    student = {
        "netid": netid,
        "first_name": f"Given{n}",
        "middle_name": None,
        "last_name": f"Family{n}",
        "class_year": class_year,
        "school_code": "UG",
        "ferpa_protected": rng.random() < 0.02,
    }
    terms = []
    for term in held:
        q = calendar.quarterly_term(term)
        terms.append(
            {
                "id": f"{n:012x}{len(terms):012x}",
                "netid": netid,
                "term_id": f"{term}-U",
                "school_id": "UG",
                "start_date": q.start_date,
                "end_date": q.end_date,
                "lms_term_id": lms_term_id(term),
                "quarterly_term_id": term,
                "term_description_id": "U",
            }
        )
    updated = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    plans = [
        {
            "id": 1_000_000 + n * 10 + i,
            "type": "Major" if i == 0 else "Minor",
            "state": "declared",
            "name": f"{dept}-{'MAJOR' if i == 0 else 'MINOR'}",
            "parent_id": None,
            "updated": False,
            "dropped": False,
            "department": dept,
            "student_netid": netid,
            "faculty_netid": f"d{rng.randint(1, 999):06d}",
            "db_name": "iron",
            "updated_at": updated,
        }
        for i, dept in enumerate(rng.sample(DEPARTMENTS, rng.randint(1, 3)))
    ]
    dplans = [
        {
            "netid": netid,
            "term_code": term,
            "dplan_id": rng.choice(DPLAN_CODES),
            "dplan_source_id": rng.choice(DPLAN_SOURCES),
            "updated_at": updated,
        }
        for term in held
        if rng.random() < 0.8
    ]
    return {"students": [student], "terms": terms, "plans": plans, "dplans": dplans}


async def build(engine: AsyncEngine, students: int, seed: int) -> None:
    """The bench's own builder: deterministic rows for `students` students, bulk inserted."""
    rng = random.Random(seed)
    tables = {
        "students": Student.__table__,
        "terms": StudentTerm.__table__,
        "plans": AcademicPlan.__table__,
        "dplans": StudentDplan.__table__,
    }
    pending: dict[str, list[dict[str, Any]]] = {k: [] for k in tables}

    async def flush(conn: Any) -> None:
        for key, table in tables.items():  # parents first: foreign keys hold at every step
            if pending[key]:
                await conn.execute(insert(table), pending[key])
                pending[key] = []

    async with engine.begin() as conn:
        for n in range(1, students + 1):
            for key, rows in _student_rows(rng, n).items():
                pending[key] += rows
            if len(pending["terms"]) >= CHUNK:
                await flush(conn)
        await flush(conn)


async def describe(engine: AsyncEngine, source: str) -> Dataset:
    """Row counts, and a student who has terms, plans and D-plans (scenario a asks for them)."""
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        for key, model in [
            ("students", Student),
            ("student_terms", StudentTerm),
            ("academic_plans", AcademicPlan),
            ("student_dplans", StudentDplan),
        ]:
            counts[key] = int(
                (await conn.execute(select(func.count()).select_from(model))).scalar_one()
            )
        sample = (
            await conn.execute(
                select(Student.netid)
                .where(
                    Student.netid.in_(select(StudentTerm.netid)),
                    Student.netid.in_(select(AcademicPlan.student_netid)),
                    Student.netid.in_(select(StudentDplan.netid)),
                )
                .order_by(Student.netid)
                .limit(1)
            )
        ).scalar_one()
    return Dataset(source, counts, sample)


async def fill(settings: Settings, students: int, seed: int, builder: str) -> Dataset:
    """Reset the database and fill it; `builder` is `auto`, `app` or `bench`."""
    await reset(settings)
    use_app = builder == "app" or (builder == "auto" and generate_command_exists())
    if use_app:
        await asyncio.to_thread(run_generate_command, settings.database_url, students, seed)
        source = f"python -m app generate --students {students} --seed {seed}"
    else:
        engine = create_engine(settings)
        try:
            await build(engine, students, seed)
        finally:
            await engine.dispose()
        source = f"bench builder (bench/data.py), {students} students, seed {seed}"
    engine = create_engine(settings)
    try:
        return await describe(engine, source)
    finally:
        await engine.dispose()
