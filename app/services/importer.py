"""Loading a `load`-format document: decode, check, check references, upsert in order.

Everything is checked before anything is written, and the caller runs `load` inside one
transaction, so a bad file leaves the database exactly as it was. Loading never deletes: rows
the file does not mention stay, rows it mentions are replaced, so loading twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.load_format import LoadDocument, Row, parse_document
from app.errors import Invalid, Problem
from app.repositories.importer import TABLES, ImportRepository
from app.services import reference as reference_service
from app.services.changes import TABLE_KINDS, Capture, key_of


@dataclass(frozen=True)
class Reference:
    """Rows of `rows` whose `column` names a `kind` defined in the file's `defined` list (by its
    `id`/`netid`) or already stored. `field` is where the value sits in the file's record."""

    rows: str
    column: str
    kind: str
    defined: str
    field: str = ""


REFERENCES = (
    Reference("student_terms", "netid", "student", "students"),
    Reference("student_terms", "quarterly_term_id", "SIS term", "sis_terms", "quarterly_term.id"),
    Reference("plans", "student_netid", "student", "students"),
    Reference("plans", "parent_id", "plan", "plans"),
    Reference("dplans", "netid", "student", "students"),
    Reference("dplans", "term_code", "SIS term", "sis_terms"),
    Reference("dplans", "dplan_id", "D-plan code", "dplan_codes"),
    Reference("dplans", "dplan_source_id", "D-plan source", "dplan_sources"),
)


def _problems(message: str, problems: list[Problem]) -> Invalid:
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return Invalid(f"{message}: {count}, nothing was loaded", problems)


def decode(data: bytes) -> Any:
    """The JSON value in `data`, or Invalid naming where the JSON breaks."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _problems("not valid JSON", [Problem("", f"not valid JSON: {exc}")]) from exc


def read_document(data: bytes) -> LoadDocument:
    """Decode and check a file; Invalid lists every problem in it."""
    document, problems = parse_document(decode(data))
    if problems:
        raise _problems("the file does not follow the load format", problems)
    return document


async def _missing_references(session: AsyncSession, document: LoadDocument) -> list[Problem]:
    repo = ImportRepository(session)
    problems: list[Problem] = []
    for ref in REFERENCES:
        rows: list[Row] = getattr(document, ref.rows)
        wanted = {r.values[ref.column] for r in rows} - {None}
        key = "netid" if ref.defined == "students" else "id"
        wanted -= {r.values[key] for r in getattr(document, ref.defined)}
        if not wanted:
            continue
        missing = wanted - await repo.existing(ref.kind, wanted)
        problems.extend(
            Problem(
                f"{r.loc}.{ref.field or ref.column}",
                f"{ref.kind} {r.values[ref.column]} does not exist",
            )
            for r in rows
            if r.values[ref.column] in missing
        )
    return problems


async def _dplans_with_dates(
    repo: ImportRepository, rows: list[Row], now: datetime
) -> list[dict[str, Any]]:
    """D-plan rows with `updated_at`: as given; else kept when the D-plan is unchanged (so a
    second load changes nothing), else `now`."""
    undated = {r.values["netid"] for r in rows if r.values["updated_at"] is None}
    stored = await repo.dplan_values(undated) if undated else {}
    out = []
    for row in rows:
        values = dict(row.values)
        if values["updated_at"] is None:
            before = stored.get((values["netid"], values["term_code"]))
            code = (values["dplan_id"], values["dplan_source_id"])
            values["updated_at"] = before[2] if before is not None and before[:2] == code else now
        out.append(values)
    return out


async def load(
    session: AsyncSession,
    document: LoadDocument,
    *,
    now: datetime,
    source: str = "load",
    capture: bool = True,
) -> dict[str, int]:
    """Upsert a checked document, first making sure every term, student, code, source and parent
    plan it names exists in the database or in the document itself (Invalid otherwise, before
    anything is written). Returns how many rows of each table the document held. With
    `capture`, each student, term, plan and D-plan it changed is a change entry made by
    `source` (`load`, `demo`), in this transaction. Never commits."""
    problems = await _missing_references(session, document)
    if problems:
        raise _problems("the file refers to rows that do not exist", problems)
    repo = ImportRepository(session)
    changes = Capture(session, now, enabled=capture)
    for table in TABLES:
        rows: list[Row] = getattr(document, table)
        values = [r.values for r in rows]
        if table == "dplans":
            values = await _dplans_with_dates(repo, rows, now)
        kind = TABLE_KINDS.get(table)
        keys = {key_of(kind, v) for v in values} if kind else set()
        before = await changes.before(kind, keys) if kind else {}
        await repo.upsert(table, values)
        if kind:
            await changes.after(kind, keys, before, lambda _key: source)
    await changes.flush()
    if document.sis_terms:
        reference_service.forget_current_term()
    return document.counts()
