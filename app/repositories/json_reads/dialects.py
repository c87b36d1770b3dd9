"""How each database writes a JSON value as text, so both answer with the bytes orjson writes.

Objects and arrays are concatenated text, not `json_build_object`/`json_agg`: PostgreSQL's `json`
output puts a space around every `:` and after every `,` (`{"a" : 1, "b" : 2}`), which is valid
JSON but not the bytes the other engine (orjson) writes. Scalars are escaped by the database's own
JSON functions (`to_json`, `json_quote`), which escape exactly what orjson escapes: `"`, `\\` and
the control characters (as `\\b \\f \\n \\r \\t`, else `\\u00xx`); other text passes through as
UTF-8."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

TIMESTAMP_SQLITE = "%Y-%m-%dT%H:%M:%SZ"


class Dialect:
    name = ""
    key = ""  # its key in DIALECTS (a compiled statement's cache key holds it)
    # Whether a statement records what it shows itself (PostgreSQL's data-modifying CTE), or
    # returns it for the caller to record (SQLite; a read-only replica).
    records_in_statement = False

    def shown_pairs(self, rows: str) -> str:
        """A subquery of `rows`' (n, t) pairs as JSON text: `[[netid, types], ...]`."""
        raise NotImplementedError

    def param(self, number: int) -> str:
        raise NotImplementedError

    def string(self, expr: str, nullable: bool = True) -> str:
        raise NotImplementedError

    def number(self, expr: str, nullable: bool = True) -> str:
        text = f"CAST({expr} AS TEXT)"
        return f"coalesce({text}, 'null')" if nullable else text

    def boolean(self, expr: str, nullable: bool = True) -> str:
        known = f"WHEN {expr} THEN 'true' ELSE 'false' END"
        return f"CASE WHEN {expr} IS NULL THEN 'null' {known}" if nullable else f"CASE {known}"

    def timestamp(self, expr: str, nullable: bool = True) -> str:
        text = "'\"' || " + self._utc_text(expr) + " || '\"'"
        return f"coalesce({text}, 'null')" if nullable else text

    def _utc_text(self, expr: str) -> str:
        raise NotImplementedError

    def base64(self, expr: str, *, urlsafe: bool = False) -> str:
        raise NotImplementedError

    def array(self, item: str, source: str, order_by: str, limit: str | None = None) -> str:
        """`[item,...]` over the rows of `source` (FROM ... WHERE ...), in `order_by` order, the
        first `limit` of them when given."""
        raise NotImplementedError

    def concat(self, item: str, order_by: str) -> str:
        """The aggregate joining `item`s with commas, in `order_by` order (SQLite: in the order
        of an ordered subquery it reads)."""
        raise NotImplementedError

    def any_of(self, column: str, param: str, sql_type: str) -> str:
        """`column` equals one of the list bound to `param` (however long: one parameter), the
        list's items of `sql_type` (`BIGINT`, `TEXT`, `BOOLEAN`, `TIMESTAMPTZ`)."""
        raise NotImplementedError

    def list_param(self, values: list[object]) -> object:
        return values

    def false(self) -> str:
        return "FALSE"

    def instant(self, value: datetime) -> object:
        """An aware datetime as this database compares it with a stored timestamp."""
        return value


class PostgresDialect(Dialect):
    name = key = "postgresql"
    records_in_statement = True

    def shown_pairs(self, rows: str) -> str:
        return f"SELECT coalesce(json_agg(json_build_array(x.n, x.t))::text, '[]') FROM ({rows}) x"

    def param(self, number: int) -> str:
        return f"${number}"

    def string(self, expr: str, nullable: bool = True) -> str:
        text = f"to_json({expr})::text"
        return f"coalesce({text}, 'null')" if nullable else text

    def boolean(self, expr: str, nullable: bool = True) -> str:
        text = f"CAST({expr} AS TEXT)"  # PostgreSQL spells a boolean as JSON does
        return f"coalesce({text}, 'null')" if nullable else text

    def _utc_text(self, expr: str) -> str:
        return f"to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

    def base64(self, expr: str, *, urlsafe: bool = False) -> str:
        # encode() wraps lines past 76 characters; translate() drops (and maps) characters.
        encoded = f"encode(convert_to({expr}, 'UTF8'), 'base64')"
        if urlsafe:
            return f"translate({encoded}, '+/' || chr(10), '-_')"
        return f"translate({encoded}, chr(10), '')"

    def array(self, item: str, source: str, order_by: str, limit: str | None = None) -> str:
        if limit is None:
            return (
                f"(SELECT '[' || coalesce(string_agg({item}, ',' ORDER BY {order_by}), '') || ']' "
                f"FROM {source})"
            )
        return (
            "(SELECT '[' || coalesce(string_agg(j, ',' ORDER BY n), '') || ']' FROM "
            f"(SELECT {item} AS j, row_number() OVER (ORDER BY {order_by}) AS n FROM {source} "
            f"ORDER BY {order_by} LIMIT {limit}) x)"
        )

    def concat(self, item: str, order_by: str) -> str:
        return f"string_agg({item}, ',' ORDER BY {order_by})"

    def any_of(self, column: str, param: str, sql_type: str) -> str:
        return f"{column} = ANY(CAST({param} AS {sql_type}[]))"


class SqliteDialect(Dialect):
    name = key = "sqlite"

    def shown_pairs(self, rows: str) -> str:
        return f"SELECT json_group_array(json_array(x.n, x.t)) FROM ({rows}) x"

    def param(self, number: int) -> str:
        return f"?{number}"

    def string(self, expr: str, nullable: bool = True) -> str:
        return f"json_quote({expr})"  # json_quote(NULL) is 'null'

    def _utc_text(self, expr: str) -> str:
        return f"strftime('{TIMESTAMP_SQLITE}', {expr})"

    def base64(self, expr: str, *, urlsafe: bool = False) -> str:
        return f"{'sg_base64url' if urlsafe else 'sg_base64'}({expr})"

    def array(self, item: str, source: str, order_by: str, limit: str | None = None) -> str:
        # SQLite 3.40 has no ORDER BY inside an aggregate; an ordered subquery under an
        # aggregate is not flattened, so group_concat sees its rows in that order.
        limited = f" LIMIT {limit}" if limit is not None else ""
        return (
            "(SELECT '[' || coalesce(group_concat(j, ','), '') || ']' "
            f"FROM (SELECT {item} AS j FROM {source} ORDER BY {order_by}{limited}))"
        )

    def concat(self, item: str, order_by: str) -> str:
        return f"group_concat({item}, ',')"

    def any_of(self, column: str, param: str, sql_type: str) -> str:
        return f"{column} IN (SELECT value FROM json_each({param}))"

    def instant(self, value: datetime) -> object:
        # How SQLAlchemy stores UtcDateTime in SQLite: naive UTC text, microseconds included.
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def list_param(self, values: list[object]) -> object:
        return orjson.dumps(values).decode()


class ReplicaDialect(PostgresDialect):
    """PostgreSQL on a read-only replica: what a statement shows is returned, and recorded on
    the primary by the caller (app/replicas.py)."""

    key = "postgresql-replica"
    records_in_statement = False


DIALECTS: dict[str, Dialect] = {
    d.key: d for d in (PostgresDialect(), SqliteDialect(), ReplicaDialect())
}
