"""Reads whose JSON the database builds: one statement answers a whole selection, its text
spliced into the response unparsed. See `objects` (types), `roots` (Query fields), `filters`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import fetch_row
from app.repositories.json_reads.dialects import DIALECTS
from app.repositories.json_reads.objects import Pick, Unplannable
from app.repositories.json_reads.roots import Compiled, RootQuery, RootRead, compile_data, prepare

__all__ = ["JsonReads", "Pick", "RootQuery", "Unplannable"]


@lru_cache(maxsize=1024)
def _compiled(dialect: str, reads: tuple[RootRead, ...], include_protected: bool) -> Compiled:
    return compile_data(DIALECTS[dialect], reads, include_protected=include_protected)


class JsonReads:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = DIALECTS[engine.dialect.name]

    async def data(
        self, queries: Sequence[RootQuery], *, include_protected: bool, now: datetime
    ) -> str:
        """The JSON text of `{"<key>": <root field's value>, ...}`, from one statement.
        `Invalid` for a filter value that does not fit; `Unplannable` for a selection these
        builders cannot build (the caller answers another way)."""
        values: dict[str, Any] = {"now": self.dialect.instant(now)}
        reads = []
        for i, query in enumerate(queries):
            read, bound = prepare(i, query, self.dialect)
            reads.append(read)
            values.update(bound)
        compiled = _compiled(self.dialect.name, tuple(reads), include_protected)
        row = await fetch_row(self.engine, compiled.sql, compiled.params(values))
        return str(row[0])
