"""Filters as plain data. GraphQL inputs and REST query strings both become `Condition`s; the
repositories turn known fields into SQL with bound parameters only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Op = Literal["eq", "in", "lt", "lte", "gt", "gte", "prefix", "is_null", "not"]
OPS: tuple[Op, ...] = ("eq", "in", "lt", "lte", "gt", "gte", "prefix", "is_null", "not")


@dataclass(frozen=True)
class Condition:
    """`field op value`, e.g. Condition("class_year", "gte", 2024). `in` takes a list,
    `is_null` a bool; `not` (field "not") a list of conditions, ANDed, whose rows it excludes.
    REST never makes `is_null` or `not` (the portal's syntax has neither)."""

    field: str
    op: Op
    value: Any


def escape_like(prefix: str) -> str:
    """A prefix safe inside LIKE '...%' ESCAPE '\\' (so `%` and `_` match themselves)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_rest_value(raw: str) -> tuple[Op, str]:
    """The portal's value syntax: `=<v` (at most, inclusive), `=>v` (at least, inclusive),
    `v*` (starts with), else equality. `?year=<2020` arrives here as `<2020`; the doubled form
    `?year==<2020` (`=<2020` here) is read the same way."""
    if raw[:2] in ("=<", "=>"):
        raw = raw[1:]
    if raw.startswith("<"):
        return "lte", raw[1:]
    if raw.startswith(">"):
        return "gte", raw[1:]
    if raw.endswith("*") and not raw.endswith("\\*"):
        return "prefix", raw[:-1]
    return "eq", raw.replace("\\*", "*")
