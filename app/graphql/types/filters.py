"""Typed filter inputs; each becomes a list of `Condition`s for the services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_snake_case

from app.domain.filters import OPS, Condition
from app.errors import Invalid, Problem


@strawberry.input(description="Match a string: exactly, one of a list, or by prefix.")
class StringFilter:
    eq: str | None = strawberry.field(default=strawberry.UNSET, description="Equal to this.")
    in_: list[str] | None = strawberry.field(
        default=strawberry.UNSET, name="in", description="Equal to one of these."
    )
    starts_with: str | None = strawberry.field(
        default=strawberry.UNSET, description="Starts with this (case-sensitive)."
    )


@strawberry.input(description="Match a string exactly or as one of a list.")
class KeywordFilter:
    eq: str | None = strawberry.field(default=strawberry.UNSET, description="Equal to this.")
    in_: list[str] | None = strawberry.field(
        default=strawberry.UNSET, name="in", description="Equal to one of these."
    )


@strawberry.input(description="Match a string by prefix, ignoring case.")
class PrefixFilter:
    starts_with: str = strawberry.field(description="The prefix; case is ignored.")


@strawberry.input(description="Compare an integer; bounds are combined with AND.")
class IntFilter:
    eq: int | None = strawberry.field(default=strawberry.UNSET, description="Equal to this.")
    in_: list[int] | None = strawberry.field(
        default=strawberry.UNSET, name="in", description="Equal to one of these."
    )
    lt: int | None = strawberry.field(default=strawberry.UNSET, description="Less than.")
    lte: int | None = strawberry.field(default=strawberry.UNSET, description="At most.")
    gt: int | None = strawberry.field(default=strawberry.UNSET, description="Greater than.")
    gte: int | None = strawberry.field(default=strawberry.UNSET, description="At least.")


_IS_NULL = "true: only where it is empty (null); false: only where it is set."


@strawberry.input(description="Match a string that may be empty: as `KeywordFilter`, or by null.")
class NullableKeywordFilter(KeywordFilter):
    is_null: bool | None = strawberry.field(default=strawberry.UNSET, description=_IS_NULL)


@strawberry.input(description="Match a string that may be empty: as `StringFilter`, or by null.")
class NullableStringFilter(StringFilter):
    is_null: bool | None = strawberry.field(default=strawberry.UNSET, description=_IS_NULL)


@strawberry.input(description="Compare an integer that may be empty: as `IntFilter`, or by null.")
class NullableIntFilter(IntFilter):
    is_null: bool | None = strawberry.field(default=strawberry.UNSET, description=_IS_NULL)


_NOT = (
    "Only what this filter does not match (a row it cannot judge, having null where it "
    "compares, is kept)."
)


@strawberry.input(description="Which students to list. Fields combine with AND.")
class StudentFilter:
    netid: StringFilter | None = strawberry.field(default=None, description="By netid.")
    name: PrefixFilter | None = strawberry.field(
        default=None, description="Given or family name starts with this (any case)."
    )
    class_year: NullableIntFilter | None = strawberry.field(
        default=None, description="By class year."
    )
    school_code: NullableKeywordFilter | None = strawberry.field(
        default=None, description="By school."
    )
    not_: StudentFilter | None = strawberry.field(default=None, name="not", description=_NOT)


@strawberry.input(description="Which academic plans to list. Fields combine with AND.")
class PlanFilter:
    student_netid: KeywordFilter | None = strawberry.field(default=None, description="By student.")
    department: NullableStringFilter | None = strawberry.field(
        default=None, description="By department."
    )
    type: KeywordFilter | None = strawberry.field(default=None, description="`Major`, `Minor`...")
    state: KeywordFilter | None = strawberry.field(default=None, description="`declared`, ...")
    not_: PlanFilter | None = strawberry.field(default=None, name="not", description=_NOT)


@strawberry.input(description="Which SIS terms to list.")
class SisTermFilter:
    current_term_offset: IntFilter | None = strawberry.field(
        default=None, description="By distance from today's term (`{gte: -4, lte: 0}`)."
    )
    year: IntFilter | None = strawberry.field(default=None, description="By calendar year.")


_OP_OF = {"in_": "in", "starts_with": "prefix", "is_null": "is_null"}
MAX_IN_VALUES = 1000  # an `in` list; longer ones are refused by name, not left to the database


def _bounded(field_name: str, op: str, value: Any) -> Condition:
    if op == "in" and len(value) > MAX_IN_VALUES:
        problem = Problem(field_name, f"`in` takes at most {MAX_IN_VALUES} values")
        raise Invalid("the filter has too many values", [problem])
    return Condition(field_name, op, value)  # type: ignore[arg-type]


def conditions_of(filter_input: Any) -> list[Condition]:
    """Conditions from a filter input. An input's attribute is the service's field name
    (`class_year`), so the filterable fields are declared once: by the input types above."""
    if filter_input is None:
        return []
    out: list[Condition] = []
    for field_name, sub in vars(filter_input).items():
        if sub is None or sub is strawberry.UNSET:
            continue
        if field_name == "not_":
            out.append(Condition("not", "not", conditions_of(sub)))
            continue
        for op_attr, value in vars(sub).items():
            if value is None or value is strawberry.UNSET:
                continue
            op = _OP_OF.get(op_attr, op_attr)
            assert op in OPS
            out.append(_bounded(field_name, op, value))
    return out


# The operators as the GraphQL inputs name them (graphql-core's coerced argument values).
_OP_OF_NAME = {"eq": "eq", "in": "in", "lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}
_OP_OF_NAME["startsWith"] = "prefix"


def conditions_of_value(value: Mapping[str, Any] | None) -> list[Condition]:
    """`conditions_of` for a filter argument as graphql-core coerces it: a dict keyed by the
    GraphQL names (what the planner reads, without Strawberry's input objects)."""
    out: list[Condition] = []
    for name, sub in (value or {}).items():
        for op_name, op_value in (sub or {}).items():
            if op_value is not None:
                out.append(_bounded(to_snake_case(name), _OP_OF_NAME[op_name], op_value))
    return out
