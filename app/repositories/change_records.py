"""The record a change entry carries, as the matching REST route answers it, read by key in one
statement per kind: built by the same JSON builders as the REST reads (json_reads), so an entry
and `GET /api/...` show a record byte for byte alike (computed fields as of the change).

A student's record is `GET /api/students/{netid}` without its `dplans`: each D-plan is an
entry of its own (kind `dplan`, the item of that list), so a D-plan written is one entry."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.caches import BoundedCache, memoized
from app.db import SerializedSession
from app.repositories.json_reads import objects
from app.repositories.json_reads.dialects import DIALECTS, Dialect
from app.repositories.json_reads.objects import Statement
from app.repositories.json_reads.rest import PLAN, STUDENT, TERM
from app.repositories.json_reads.roots import Compiled, finish

KINDS = ("student", "term", "plan", "dplan")
STUDENT_OWN = tuple(p for p in STUDENT if p.key != "dplans")
DPLAN = next(p for p in STUDENT if p.key == "dplans").sub

# (key, netid, JSON text) of each record asked for.
Found = dict[str, tuple[str, str]]


def _student(st: Statement, keys: str) -> str:
    s = st.alias("s")
    item = objects.student(st, s, STUDENT_OWN)
    where = st.d.any_of(f"{s}.netid", keys, "TEXT")
    return f"SELECT {s}.netid, {s}.netid, {item} FROM students {s} WHERE {where}"


def _term(st: Statement, keys: str) -> str:
    rows = objects.terms(st, lambda t: st.d.any_of(f"{t}.id", keys, "TEXT"), TERM)
    t = rows.order.split(".")[0]
    return f"SELECT {t}.id, {t}.netid, {rows.item} FROM {rows.source}"


def _plan(st: Statement, keys: str) -> str:
    a = st.alias("a")
    item = objects.academic_plan(st, a, PLAN)
    where = st.d.any_of(f"{a}.id", keys, "BIGINT")
    return (
        f"SELECT CAST({a}.id AS TEXT), {a}.student_netid, {item} FROM academic_plans {a} "
        f"WHERE {where}"
    )


def _dplan(st: Statement, keys: str) -> str:
    # By the students' netids; the caller keeps the (netid, term) pairs it asked for.
    rows = objects.dplan_rows(st, lambda x: st.d.any_of(f"{x}.netid", keys, "TEXT"), DPLAN)
    x = rows.order.split(".")[0]
    return f"SELECT {x}.netid || '/' || {x}.term_code, {x}.netid, {rows.item} FROM {rows.source}"


_BUILDERS = {"student": _student, "term": _term, "plan": _plan, "dplan": _dplan}
STATEMENTS: BoundedCache[tuple[Any, ...], Compiled] = BoundedCache(
    "change_record_statements", max_entries=16, max_bytes=1024 * 1024
)


@memoized(STATEMENTS, lambda compiled, *_: len(compiled.sql) + 100)
def _compiled(dialect: str, kind: str) -> Compiled:
    st = Statement(DIALECTS[dialect], include_protected=True)
    return finish(st, _BUILDERS[kind](st, st.param("keys")))


def _key_values(kind: str, keys: Collection[str]) -> list[Any]:
    if kind == "plan":
        return sorted(int(k) for k in keys)
    if kind == "dplan":
        return sorted({k.partition("/")[0] for k in keys})
    return sorted(keys)


async def records(session: AsyncSession, kind: str, keys: Collection[str], now: datetime) -> Found:
    """key -> (netid, record JSON) of the `kind` records of `keys` that exist, in the session's
    transaction (one statement)."""
    if not keys:
        return {}
    dialect: Dialect = DIALECTS[session.get_bind().dialect.name]
    compiled = _compiled(dialect.name, kind)
    values = {"keys": dialect.list_param(_key_values(kind, keys)), "now": dialect.instant(now)}
    turn = session.turn if isinstance(session, SerializedSession) else nullcontext()
    async with turn:
        connection = await session.connection()
        result = await connection.exec_driver_sql(compiled.sql, tuple(compiled.params(values)))
        rows = result.all()
    wanted = keys if kind == "dplan" else None
    found: Found = {}
    for key, netid, record in (tuple(r) for r in rows):
        if wanted is None or key in wanted:
            found[str(key)] = (str(netid), str(record))
    return found
