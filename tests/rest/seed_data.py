"""The seed documents as test data: parse a sample out of a seed .txt, and load sample records
(terms of seed 004, plans of seed 003) into the database exactly as they read."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AcademicPlan, LmsTerm, SisTerm, Student, StudentTerm, TermDescription
from tests.factories import make_student

# The seed documents, copied into the repo so the contract tests always run; a test checks the
# copy against ../shared/seeds whenever that is beside the repo.
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SHARED_SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


def seed_text(number: str) -> str | None:
    """The text of seed `NNN_*.txt`."""
    found = sorted(SEEDS.glob(f"{number}_*.txt")) if SEEDS.is_dir() else []
    return found[0].read_text(encoding="utf-8") if found else None


def sample_after(text: str, marker: str) -> Any:
    """The JSON value that starts after `marker` (parsed with key order kept)."""
    start = text.index(marker) + len(marker)
    match = re.compile(r"[\[{]").search(text, start)
    assert match, f"no JSON after {marker!r}"
    value, _ = json.JSONDecoder().raw_decode(text, match.start())
    return value


def sample_request(text: str) -> str:
    """The path and query of the seed's `Sample Request` URL."""
    start = text.index("Sample Request") + len("Sample Request")
    match = re.compile(r"https?://\S+").search(text, start)
    assert match, "no sample request URL"
    url = urlsplit(match.group(0))
    return url.path + (f"?{url.query}" if url.query else "")


def when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


async def ensure_students(session: AsyncSession, netids: Sequence[str], **overrides: Any) -> None:
    existing = set((await session.execute(select(Student.netid))).scalars())
    for netid in dict.fromkeys(netids):
        if netid not in existing:
            await make_student(session, netid=netid, **overrides)


async def _reference_of(session: AsyncSession, record: dict[str, Any]) -> None:
    lms, quarterly, part = record["lms_term"], record["quarterly_term"], record["term_description"]
    await session.merge(LmsTerm(**lms))
    await session.merge(
        SisTerm(
            id=quarterly["id"],
            name=quarterly["name"],
            start_date=when(quarterly["start_date"]),
            end_date=when(quarterly["end_date"]),
        )
    )
    await session.merge(TermDescription(**part))


async def load_terms(session: AsyncSession, records: Sequence[dict[str, Any]]) -> None:
    """Student term records shaped as the terms sample; their reference rows are merged as
    they read. Computed fields (is_active, current_term_offset) are not stored."""
    await ensure_students(session, [r["netid"] for r in records])
    for record in records:
        await _reference_of(session, record)
        session.add(
            StudentTerm(
                id=record["id"],
                netid=record["netid"],
                term_id=record["term_id"],
                school_id=record["school_id"],
                start_date=when(record["start_date"]),
                end_date=when(record["end_date"]),
                lms_term_id=record["lms_term"]["id"],
                quarterly_term_id=record["quarterly_term"]["id"],
                term_description_id=record["term_description"]["id"],
            )
        )
    await session.flush()


def plan_model(record: dict[str, Any]) -> AcademicPlan:
    values = dict(record)
    values.update(
        id=int(record["id"]),
        updated=record["updated"] == "Y",
        dropped=record["dropped"] == "Y",
        updated_at=when(record["updated_at"]),
    )
    return AcademicPlan(**values)


async def load_plans(session: AsyncSession, records: Sequence[dict[str, Any]]) -> None:
    """Plan records shaped as the plans sample; parents are written before their children."""
    await ensure_students(session, [r["student_netid"] for r in records])
    for record in sorted(records, key=lambda r: r["parent_id"] is not None):
        session.add(plan_model(record))
        await session.flush()
