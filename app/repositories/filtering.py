"""Turn `Condition`s into SQL over a map of allowed fields. Values only ever become bound
parameters; a field not in the map is reported back, never interpolated."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, not_
from sqlalchemy.orm import QueryableAttribute

from app.domain.filters import Condition, escape_like
from app.errors import Invalid, Problem

Coerce = Callable[[Any], Any]


INT64 = 2**63


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    number = int(value)
    if not -INT64 <= number < INT64:
        raise ValueError("out of range")  # no column holds it; the drivers would overflow
    return number


def to_flag(value: Any) -> bool:
    """`Y`/`N` as the REST API shows flags; true/false as GraphQL and JSON do."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("y", "yes", "true", "1"):
        return True
    if text in ("n", "no", "false", "0"):
        return False
    raise ValueError("expected Y or N")


def to_datetime(value: Any) -> datetime:
    """An instant; one written without a zone (`2020-01-01`) is taken as UTC."""
    parsed = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Field:
    column: QueryableAttribute[Any] | ColumnElement[Any]
    coerce: Coerce = str
    prefixable: bool = False


def bound_value(field: Field, cond: Condition) -> Any:
    """The value a condition binds: coerced to the field's type, a prefix escaped for LIKE.
    ValueError/TypeError when it does not fit the field (every engine reports it the same way)."""
    if cond.op == "prefix":
        if not field.prefixable:
            raise ValueError("does not support a prefix match")
        return escape_like(str(cond.value)) + "%"
    if cond.op == "in":
        return [field.coerce(v) for v in cond.value]
    return field.coerce(cond.value)


def value_problem(cond: Condition, exc: Exception) -> Problem:
    return Problem(cond.field, f"{cond.value!r} is not valid here: {exc}")


def _clause(field: Field, cond: Condition) -> ColumnElement[bool]:
    col = field.column
    if cond.op == "is_null":
        return col.is_(None) if cond.value else col.is_not(None)
    value = bound_value(field, cond)
    if cond.op == "prefix":
        return col.like(literal(value), escape="\\")
    if cond.op == "in":
        return col.in_(value) if value else false()
    ops: dict[str, Callable[[Any], ColumnElement[bool]]] = {
        "eq": col.__eq__,
        "lt": col.__lt__,
        "lte": col.__le__,
        "gt": col.__gt__,
        "gte": col.__ge__,
    }
    return ops[cond.op](value)


Custom = Mapping[str, Callable[[Condition], ColumnElement[bool]]]


def _excluded(
    fields: Mapping[str, Field], conditions: Sequence[Condition], custom: Custom
) -> ColumnElement[bool]:
    """`not`: the rows the inner conditions do not match. A comparison with NULL is unknown in
    SQL, and a row it leaves unknown is not matched, so it is kept here (`not: {schoolCode:
    {eq: "UG"}}` includes students without a school)."""
    inner = compile_conditions(fields, conditions, custom)
    if not inner:
        return false()  # `not: {}`: the empty filter matches every row
    return not_(func.coalesce(and_(*inner), false()))


def compile_conditions(
    fields: Mapping[str, Field], conditions: Sequence[Condition], custom: Custom | None = None
) -> list[ColumnElement[bool]]:
    """SQL clauses for the known fields; conditions on other fields are ignored (REST names
    them back to the caller). `custom` builds the clause of a field that is no column."""
    clauses: list[ColumnElement[bool]] = []
    problems: list[Problem] = []
    for cond in conditions:
        if cond.op == "not":
            clauses.append(_excluded(fields, cond.value, custom or {}))
            continue
        if custom and cond.field in custom:
            clauses.append(custom[cond.field](cond))
            continue
        field = fields.get(cond.field)
        if field is None:
            continue
        try:
            clauses.append(_clause(field, cond))
        except (TypeError, ValueError) as exc:
            problems.append(value_problem(cond, exc))
    if problems:
        raise Invalid("the filter has values that cannot be used", problems)
    return clauses
