"""Keyset pages shared by the GraphQL connections (REST keeps found sets of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from app.errors import Invalid, Problem

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    has_next: bool


def check_page_size(first: int, maximum: int) -> None:
    if not 0 <= first <= maximum:
        raise Invalid(
            "page size out of range", [Problem("first", f"must be between 0 and {maximum}")]
        )


def page_of(rows: Sequence[Any], first: int) -> Page[Any]:
    """Repositories fetch `first + 1` rows; the extra one only says another page exists."""
    return Page(rows=rows[:first], has_next=len(rows) > first)
