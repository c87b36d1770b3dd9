"""Scalar checks for the `load` file format: each returns the value to store or raises BadValue
with a message a person can act on (what was expected, what was found)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain import terms as calendar

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_DIGITS = re.compile(r"^[0-9]{1,18}$")  # fits a BIGINT
_FLAGS = {"Y": True, "N": False}


class BadValue(ValueError):
    """A value of the wrong type or form; the message says what was expected."""


def describe(value: Any) -> str:
    """A JSON value the way a person reading the file sees it: its JSON type, and short ones."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {json.dumps(value)}" if len(value) <= 40 else "a long string"
    return "a list" if isinstance(value, list) else "an object"


@dataclass(frozen=True)
class string:
    """A string of at most `max_length` characters (the column's size); `blank=False` for keys."""

    max_length: int
    blank: bool = True

    def __call__(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadValue(f"expected a string, got {describe(value)}")
        if not self.blank and not value.strip():
            raise BadValue("must not be empty")
        if len(value) > self.max_length:
            raise BadValue(f"longer than {self.max_length} characters")
        return value


def key(max_length: int) -> string:
    return string(max_length, blank=False)


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(f"expected an integer, got {describe(value)}")
    if abs(value) >= 2**63:
        raise BadValue("integer out of range")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, got {describe(value)}")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, str) or value not in _FLAGS:
        raise BadValue(f'expected "Y" or "N", got {describe(value)}')
    return _FLAGS[value]


def timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise BadValue(
            f'expected a UTC timestamp like "2018-01-03T05:00:00Z", got {describe(value)}'
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadValue(f"not a real date and time: {value!r}") from exc


def digits(value: Any) -> int:
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise BadValue(f'expected a string of digits like "20109", got {describe(value)}')
    return int(value)


def term_code(value: Any) -> str:
    if not isinstance(value, str) or not calendar.is_term_id(value):
        raise BadValue(f"expected a term code YYYYMM (MM 01, 03, 06 or 09), got {describe(value)}")
    return value


def hex24(value: Any) -> str:
    if not isinstance(value, str) or not _HEX24.match(value):
        raise BadValue(f"expected 24 lowercase hex digits, got {describe(value)}")
    return value


def anything(value: Any) -> Any:
    return value
