"""All SQL lives here. Reads select only the columns they need, as Core rows."""

from typing import Any, TypeAlias

from sqlalchemy import Row, Select

Record: TypeAlias = Row[*tuple[Any, ...]]
"""A Core row of any width, read by attribute (`row.netid`)."""
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
