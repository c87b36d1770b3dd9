"""Filter conditions as SQL text, from the repositories' own field declarations (`FIELDS`).

A statement is built once per *shape* of its conditions (which fields, which operators); each
request binds its values, coerced and checked by the same `bound_value` the Core repositories use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Integer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

from app.domain.filters import Condition, escape_like
from app.errors import Invalid, Problem
from app.models import AcademicPlan
from app.models.base import UtcDateTime
from app.repositories.filtering import Field, bound_value, to_int, value_problem
from app.repositories.json_reads.dialects import Dialect
from app.repositories.json_reads.objects import Statement, ordinal

Shape = tuple[tuple[str, str], ...]  # (field, operator) per condition
COMPARISONS = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_SQLA_DIALECTS = {
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
    "sqlite": sqlite.dialect(),
}


@dataclass(frozen=True)
class Special:
    """A filter field that is no plain column: `clause(st, alias, op, param)` gives its SQL and
    `value(condition)` the value it binds (ValueError/TypeError when the value does not fit)."""

    clause: Callable[[Statement, str, str, str], str]
    value: Callable[[Condition], Any]


@dataclass(frozen=True)
class Table:
    """A filterable table: its name, its column fields, and fields that need SQL of their own."""

    name: str
    fields: Mapping[str, Field]
    special: Mapping[str, Special] = field(default_factory=dict)

    def knows(self, name: str) -> bool:
        return name in self.fields or name in self.special


def _name_prefix(st: Statement, a: str, op: str, p: str) -> str:
    """`students.name startsWith`: given or family name, any case (StudentRepository's rule)."""
    return (
        f"(lower({a}.last_name) LIKE {p} ESCAPE '\\' OR lower({a}.first_name) LIKE {p} ESCAPE '\\')"
    )


def current_term_offset(term_id_column: str) -> Special:
    """A computed filter: how many terms a row's quarterly term (`term_id_column`) lies from the
    current one. With no current term it matches nothing (the Core path's `offset_conditions`
    rewrites it as `id in []`)."""

    def clause(st: Statement, alias: str, op: str, param: str) -> str:
        offset = f"({ordinal(f'{alias}.{term_id_column}')} - {st.current_ordinal()})"
        if op == "in":
            return st.d.any_of(offset, param, "BIGINT")
        return f"{offset} {COMPARISONS[op]} {param}"

    def value(cond: Condition) -> Any:
        if cond.op == "prefix":
            raise Invalid(
                "bad filter", [Problem(cond.field, "a number does not take a prefix match")]
            )
        try:
            return [to_int(v) for v in cond.value] if cond.op == "in" else to_int(cond.value)
        except ValueError as exc:
            raise Invalid("bad filter", [Problem(cond.field, f"{cond.value!r}: {exc}")]) from exc

    return Special(clause, value)


def _plan_id_clause(st: Statement, a: str, op: str, param: str) -> str:
    if op == "prefix":  # digits compared as text: `?id=201*`
        return f"CAST({a}.id AS TEXT) LIKE {param} ESCAPE '\\'"
    if op == "in":
        return st.d.any_of(f"{a}.id", param, "BIGINT")
    return f"{a}.id {COMPARISONS[op]} {param}"


def _plan_id_value(cond: Condition) -> Any:
    if cond.op == "prefix":
        return escape_like(str(cond.value)) + "%"
    return bound_value(Field(AcademicPlan.id, to_int), cond)


PLAN_ID = Special(_plan_id_clause, _plan_id_value)
NAME_PREFIX = Special(_name_prefix, lambda cond: escape_like(str(cond.value).lower()) + "%")


@lru_cache(maxsize=256)
def _column_sql(column: ClauseElement, table: str, dialect: str) -> str:
    compiled = column.compile(
        dialect=_SQLA_DIALECTS[dialect], compile_kwargs={"literal_binds": True}
    )
    return str(compiled).replace(f"{table}.", "{a}.")


def _sql_type(field: Field) -> str:
    """What PostgreSQL calls a field's values, for a list of them (`= ANY(CAST($n AS T[]))`)."""
    column_type = getattr(field.column, "type", None)
    if isinstance(column_type, Integer | BigInteger):
        return "BIGINT"
    if isinstance(column_type, Boolean):
        return "BOOLEAN"
    if isinstance(column_type, DateTime | UtcDateTime):
        return "TIMESTAMPTZ"
    return "TEXT"


def shape_of(table: Table, conditions: Sequence[Condition]) -> Shape:
    """The SQL-relevant part of `conditions`; fields the table does not know are left out
    (REST ignores them and names them back)."""
    shape = []
    for cond in conditions:
        if table.knows(cond.field):
            empty = cond.op == "in" and not cond.value
            shape.append((cond.field, "in_empty" if empty else cond.op))
    return tuple(shape)


def where(st: Statement, table: Table, alias: str, shape: Shape, slot: str) -> list[str]:
    """SQL conditions on `alias` for a shape; values bind to slots `<slot>.<i>`."""
    clauses = []
    for i, (name, op) in enumerate(shape):
        if op == "in_empty":
            clauses.append(st.d.false())
            continue
        param = st.param(f"{slot}.{i}")
        if name in table.special:
            clauses.append(table.special[name].clause(st, alias, op, param))
            continue
        column_field = table.fields[name]
        column = _column_sql(column_field.column, table.name, st.d.name).format(a=alias)
        if op == "in":
            clauses.append(st.d.any_of(column, param, _sql_type(column_field)))
        elif op == "prefix":
            clauses.append(f"{column} LIKE {param} ESCAPE '\\'")
        else:
            clauses.append(f"{column} {COMPARISONS[op]} {param}")
    return clauses


def _param(dialect: Dialect, value: Any) -> Any:
    return dialect.instant(value) if isinstance(value, datetime) else value


def bind(table: Table, conditions: Sequence[Condition], slot: str, dialect: Any) -> dict[str, Any]:
    """Each condition's value for its slot; `Invalid` naming every value that does not fit."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    known = [c for c in conditions if table.knows(c.field)]
    for i, cond in enumerate(known):
        try:
            if cond.field in table.special:
                value: Any = table.special[cond.field].value(cond)
            else:
                value = bound_value(table.fields[cond.field], cond)
        except (TypeError, ValueError) as exc:
            problems.append(value_problem(cond, exc))
            continue
        if cond.op == "in":
            if not value:
                continue
            value = dialect.list_param([_param(dialect, v) for v in value])
        values[f"{slot}.{i}"] = _param(dialect, value)
    if problems:
        raise Invalid("the filter has values that cannot be used", problems)
    return values
