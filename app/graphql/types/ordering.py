"""How `students` and `plans` are ordered, and the cursors that continue each order.

Every order ends with the key (netid, plan id), so it is total and a cursor names one place in
it; each is backed by an index (migration 0004). A cursor holds the values of its order's
columns: `student:f000abc` for the default key order (the cursors the connections always gave),
`student.last_name:["Smith","Ann","f000abc"]` for another, base64url-encoded either way."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson
import strawberry

from app.errors import Invalid, Problem
from app.graphql.types.connections import decode_cursor, encode_cursor
from app.services.plans import parse_plan_id


@strawberry.enum(description="The order of `students`. Ties are broken by netid.")
class StudentOrder(Enum):
    NETID_ASC = strawberry.enum_value("NETID_ASC", description="By netid, A to Z (the default).")
    NETID_DESC = strawberry.enum_value("NETID_DESC", description="By netid, Z to A.")
    LAST_NAME_ASC = strawberry.enum_value(
        "LAST_NAME_ASC", description="By family name, then given name, then netid; A to Z."
    )
    LAST_NAME_DESC = strawberry.enum_value(
        "LAST_NAME_DESC", description="By family name, then given name, then netid; Z to A."
    )


# Enums are declarations, one value per order a client may ask for; StudentOrder's look alike.
@strawberry.enum(description="The order of `plans`. Ties are broken by plan id.")
class PlanOrder(Enum):
    ID_ASC = strawberry.enum_value("ID_ASC", description="By plan id, lowest first (the default).")
    ID_DESC = strawberry.enum_value("ID_DESC", description="By plan id, highest first.")
    STUDENT_NETID_ASC = strawberry.enum_value(
        "STUDENT_NETID_ASC", description="By the student's netid (A to Z), then plan id."
    )
    STUDENT_NETID_DESC = strawberry.enum_value(
        "STUDENT_NETID_DESC", description="By the student's netid (Z to A), then plan id."
    )


@dataclass(frozen=True)
class Ordering:
    """One order of a listing: the repository's order name, its direction, and the row
    attributes (with their types) a cursor holds."""

    kind: str  # the cursor's kind: "student", "plan"
    order: str  # the repository's order name
    descending: bool
    fields: tuple[tuple[str, type], ...]
    default: bool = False  # the key order: cursors keep their short, original form

    def cursor(self, row: Any) -> str:
        values = [getattr(row, name) for name, _ in self.fields]
        if self.default:
            return encode_cursor(self.kind, str(values[0]))
        return encode_cursor(f"{self.kind}.{self.order}", orjson.dumps(values).decode())

    def key(self, cursor: str | None, argument: str) -> tuple[Any, ...] | None:
        """The order's values a cursor holds; None for no cursor (and, as ever, for a plan
        cursor whose id is no plan id)."""
        if cursor is None:
            return None
        if self.default:
            text = decode_cursor(self.kind, cursor, argument)
            assert text is not None
            key = text if self.fields[0][1] is str else parse_plan_id(text)
            return None if key is None else (key,)
        text = decode_cursor(f"{self.kind}.{self.order}", cursor, argument)
        assert text is not None
        try:
            values = orjson.loads(text)
        except orjson.JSONDecodeError:
            values = None
        if not self._fits(values):
            raise Invalid("bad cursor", [Problem(argument, "is not a cursor of this order")])
        return tuple(values)

    def _fits(self, values: Any) -> bool:
        return (
            isinstance(values, list)
            and len(values) == len(self.fields)
            and all(_fits(v, t) for v, (_, t) in zip(values, self.fields, strict=True))
        )


def _fits(value: Any, kind: type) -> bool:
    """A cursor's value of `kind`: printable text, or a plan id (as `parse_plan_id` takes them:
    a number past a BIGINT would reach the database and fail there)."""
    if type(value) is not kind:
        return False
    return value.isprintable() if isinstance(value, str) else parse_plan_id(str(value)) is not None


_NETID = (("netid", str),)
_NAME = (("last_name", str), ("first_name", str), ("netid", str))
_PLAN = (("id", int),)
_PLAN_STUDENT = (("student_netid", str), ("id", int))

STUDENT_ORDERINGS = {
    StudentOrder.NETID_ASC: Ordering("student", "netid", False, _NETID, default=True),
    StudentOrder.NETID_DESC: Ordering("student", "netid", True, _NETID, default=True),
    StudentOrder.LAST_NAME_ASC: Ordering("student", "last_name", False, _NAME),
    StudentOrder.LAST_NAME_DESC: Ordering("student", "last_name", True, _NAME),
}
PLAN_ORDERINGS = {
    PlanOrder.ID_ASC: Ordering("plan", "id", False, _PLAN, default=True),
    PlanOrder.ID_DESC: Ordering("plan", "id", True, _PLAN, default=True),
    PlanOrder.STUDENT_NETID_ASC: Ordering("plan", "student_netid", False, _PLAN_STUDENT),
    PlanOrder.STUDENT_NETID_DESC: Ordering("plan", "student_netid", True, _PLAN_STUDENT),
}
