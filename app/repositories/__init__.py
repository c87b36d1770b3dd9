"""All SQL lives here. Reads select only the columns they need, as Core rows."""

from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_all
from app.domain.filters import Condition

Record: TypeAlias = Row[*tuple[Any, ...]]
"""A Core row of any width, read by attribute (`row.netid`)."""
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


class KeysetListing:
    """A table listed in key order a page at a time, filtered, and counted (students, plans).
    Subclasses say which table, key and columns, and how conditions filter it."""

    table: Any
    key: Any  # the Column pages are ordered and continued by (a Column: not an ORM descriptor)
    columns: tuple[Any, ...]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def filtered(
        self, stmt: AnySelect, conditions: Sequence[Condition], include_protected: bool
    ) -> AnySelect:
        raise NotImplementedError

    async def page(
        self,
        conditions: Sequence[Condition],
        *,
        include_protected: bool,
        after: Any,
        limit: int,
    ) -> list[Record]:
        """Up to `limit` rows in key order, after the key `after` (keyset paging)."""
        stmt = self.filtered(select(*self.columns), conditions, include_protected)
        if after is not None:
            stmt = stmt.where(self.key > after)
        return await fetch_all(self.session, stmt.order_by(self.key).limit(limit))

    async def count(self, conditions: Sequence[Condition], *, include_protected: bool) -> int:
        stmt = self.filtered(
            select(func.count()).select_from(self.table), conditions, include_protected
        )
        return int((await self.session.execute(stmt)).scalar_one())
