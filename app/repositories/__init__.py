"""All SQL lives here. Reads select only the columns they need, as Core rows."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Row, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.domain.filters import Condition

Record: TypeAlias = Row[*tuple[Any, ...]]
"""A Core row of any width, read by attribute (`row.netid`)."""
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Window:
    """Which rows of a total order a page holds: after and before a key (each the order's
    columns' values, or None), the first `limit` of them, or the last `limit` (`backward`)."""

    order: str
    descending: bool = False
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
    limit: int = 21
    backward: bool = False


class KeysetListing:
    """A table listed in a total order a page at a time, filtered, and counted (students,
    plans). Subclasses say which table, key and columns, how conditions filter it, and the
    orders it offers: each ends with the key, so it is total, and each has an index."""

    table: Any
    key: Any  # the Column pages are ordered and continued by (a Column: not an ORM descriptor)
    columns: tuple[Any, ...]
    orders: dict[str, tuple[Any, ...]]  # name -> Columns, the last one unique
    student_netid: Any  # the Column naming the student of each row (counts disclose them)

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def filtered(
        self, stmt: AnySelect, conditions: Sequence[Condition], include_protected: bool
    ) -> AnySelect:
        raise NotImplementedError

    async def page(
        self, conditions: Sequence[Condition], *, include_protected: bool, window: Window
    ) -> list[Record]:
        """Up to `limit` rows of the window, in its order (keyset paging: a bound is a
        comparison of the order's columns as a row, which their index answers)."""
        columns = self.orders[window.order]
        stmt = self.filtered(select(*self.columns), conditions, include_protected)
        if window.after is not None:
            stmt = stmt.where(_beyond(columns, window.after, later=not window.descending))
        if window.before is not None:
            stmt = stmt.where(_beyond(columns, window.before, later=window.descending))
        reverse = window.descending != window.backward
        ordered = [c.desc() if reverse else c.asc() for c in columns]
        rows = await fetch_all(self.session, stmt.order_by(*ordered).limit(window.limit))
        return rows[::-1] if window.backward else rows

    async def count(self, conditions: Sequence[Condition], *, include_protected: bool) -> int:
        stmt = self.filtered(
            select(func.count()).select_from(self.table), conditions, include_protected
        )
        return int((await self.session.execute(stmt)).scalar_one())


def _beyond(columns: tuple[Any, ...], key: tuple[Any, ...], *, later: bool) -> ColumnElement[bool]:
    """Rows after (`later`) or before `key` in the columns' ascending order."""
    row = columns[0] if len(columns) == 1 else tuple_(*columns)
    bound = key[0] if len(columns) == 1 else tuple_(*key)
    compared: ColumnElement[bool] = row > bound if later else row < bound
    return compared
