"""Root reads: the SQL of each `Query` field, and the one statement that answers an operation.

A `RootRead` is what a root field asks for, minus the values it binds: its kind, its picks, and
the *shape* of its arguments (which filters, whether there is a cursor). Statements are built once
per (roots, visibility, dialect) and cached by the caller; values are bound per request, by slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.repositories import plans as plans_repo
from app.repositories import students as students_repo
from app.repositories import terms as terms_repo
from app.repositories.json_reads import disclosed, objects
from app.repositories.json_reads.dialects import Dialect
from app.repositories.json_reads.filters import (
    NAME_PREFIX,
    PLAN_ID,
    Shape,
    Table,
    bind,
    current_term_offset,
    shape_of,
    where,
)
from app.repositories.json_reads.objects import Pick, Statement, picks_signature

STUDENTS = Table("students", students_repo.FIELDS, {"name": NAME_PREFIX})
PLANS = Table("academic_plans", plans_repo.FIELDS, {"id": PLAN_ID})
SIS_TERMS = Table(
    "sis_terms", terms_repo.SIS_TERM_FIELDS, {"current_term_offset": current_term_offset("id")}
)


@dataclass(frozen=True)
class RootRead:
    """One root field: `kind` is the Query field (`student`, `students`, `plan`, `plans`,
    `sisTerms`, `dplanCodes`, `dplanSources`), or `__typename`, or `null` (a node of no known
    type). `shape` is (filter shape, a cursor given) for connections, the filter shape for
    `sisTerms`, and `missing` for a `plan` whose id can name no plan."""

    key: str
    kind: str
    picks: tuple[Pick, ...] = ()
    shape: Any = ()


def signature(reads: Sequence[RootRead]) -> str:
    """A text naming everything the statement of `reads` depends on (each root's key, kind,
    shape and picks), to cache it by: one string, where the reads are a Pick per field
    selected, each an object the garbage collector walks in every full collection."""
    parts: list[str] = []
    for read in reads:
        parts += (read.key, "|", read.kind, "|", repr(read.shape), "|")
        picks_signature(read.picks, parts)
        parts.append(";")
    return "".join(parts)


@dataclass(frozen=True)
class RootQuery:
    """A root field as a service asks for it: `args` are `netid` (student), `id` (plan: an int,
    or None for an id that names no plan), `conditions`, `first`, `after` (the key after which a
    page starts, or None) and `has_previous` (a cursor was given) for connections,
    `conditions` for `sisTerms`."""

    key: str
    kind: str
    picks: tuple[Pick, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)


def prepare(i: int, query: RootQuery, dialect: Dialect) -> tuple[RootRead, dict[str, Any]]:
    """The read (what its SQL depends on) and the values it binds, for root field `i`."""
    args, kind = query.args, query.kind
    values: dict[str, Any] = {}
    shape: Any = ()
    if kind == "student":
        values[f"{i}.netid"] = args["netid"]
    elif kind == "plan":
        shape = "missing" if args["id"] is None else ()
        values[f"{i}.id"] = args["id"]
    elif kind in LISTINGS:
        table, conditions = LISTINGS[kind].table, args["conditions"]
        values.update(bind(table, conditions, f"{i}.filter", dialect))
        values[f"{i}.first"], values[f"{i}.after"] = args["first"], args["after"]
        shape = (shape_of(table, conditions), args["after"] is not None, args["has_previous"])
    elif kind == "sisTerms":
        values.update(bind(SIS_TERMS, args["conditions"], f"{i}.filter", dialect))
        shape = shape_of(SIS_TERMS, args["conditions"])
    return RootRead(query.key, kind, query.picks, shape), values


@dataclass(frozen=True)
class Compiled:
    sql: str
    slots: tuple[str, ...]  # the slot each positional parameter binds, in order
    # Students shown: "" not recorded, "recorded" by the statement itself, "returned" as its
    # second column for the caller to record.
    disclosed: str = ""

    def params(self, values: dict[str, Any]) -> list[Any]:
        return [values[slot] for slot in self.slots]


def _conditions(st: Statement, table: Table, alias: str, shape: Shape, slot: str) -> str:
    return "".join(f" AND {c}" for c in where(st, table, alias, shape, slot))


@dataclass(frozen=True)
class _Listing:
    """What a connection lists: the table, its key, the cursor prefix and the node's JSON, and
    the column (and filter field) naming each row's student."""

    table: Table
    key: str
    cursor_prefix: str
    type_name: str
    student: str

    def from_(self, st: Statement, b: str) -> str:
        if self.table is PLANS:
            return objects.visible_plans(st, b)
        return f"students {b}"

    def visible(self, st: Statement, b: str) -> str:
        return "" if self.table is PLANS else st.visible_student(b)

    def node(self, st: Statement, p: str, picks: tuple[Pick, ...]) -> str:
        if self.table is PLANS:
            return objects.academic_plan(st, p, picks)
        return objects.student(st, p, picks)

    def cursor(self, st: Statement, key_expr: str) -> str:
        text = f"'{self.cursor_prefix}:' || CAST({key_expr} AS TEXT)"
        return f"coalesce('\"' || {st.d.base64(text, urlsafe=True)} || '\"', 'null')"


LISTINGS = {
    "students": _Listing(STUDENTS, "netid", "student", "Student", "netid"),
    "plans": _Listing(PLANS, "id", "plan", "AcademicPlan", "student_netid"),
}


def _first(st: Statement, i: int) -> str:
    return f"CAST({st.param(f'{i}.first')} AS BIGINT)"


def _page(st: Statement, i: int, read: RootRead) -> str:
    """A connection's rows: `first + 1` after the cursor (the extra one only says there is a
    next page), numbered `rn` in key order."""
    listing = LISTINGS[read.kind]
    filter_shape, has_after, _ = read.shape
    b, key = st.alias("b"), listing.key
    after = f" AND {b}.{key} > {st.param(f'{i}.after')}" if has_after else ""
    filters = _conditions(st, listing.table, b, filter_shape, f"{i}.filter")
    return (
        f"(SELECT {b}.*, row_number() OVER (ORDER BY {b}.{key}) AS rn "
        f"FROM {listing.from_(st, b)} WHERE TRUE{filters}{listing.visible(st, b)}{after} "
        f"ORDER BY {b}.{key} LIMIT {_first(st, i)} + 1)"
    )


def _connection(st: Statement, i: int, read: RootRead) -> str:
    """A Relay connection: `first + 1` rows after the cursor (the extra one only says there is a
    next page), their edges and page info, and `totalCount` when it is picked."""
    listing = LISTINGS[read.kind]
    filter_shape, _, has_previous = read.shape
    p, first, key = st.alias("p"), _first(st, i), listing.key
    page = f"{_page(st, i, read)} {p}"
    on_page = f"CASE WHEN {p}.rn <= {first} THEN {{}} END"

    def edges(pick: Pick) -> str:
        edge_fields = {
            "cursor": lambda e: listing.cursor(st, f"{p}.{key}"),
            "node": lambda e: listing.node(st, p, e.sub),
        }
        edge = st.obj(f"{listing.type_name}Edge", pick.sub, edge_fields)
        items = st.d.concat(on_page.format(edge), f"{p}.rn")
        return f"'[' || coalesce({items}, '') || ']'"

    def page_info(pick: Pick) -> str:
        first_key, last_key = (f"{fn}({on_page.format(f'{p}.{key}')})" for fn in ("min", "max"))
        fields = {
            "hasNextPage": lambda f: st.d.boolean(f"count(*) > {first}", False),
            "hasPreviousPage": lambda f: "'true'" if has_previous else "'false'",
            "startCursor": lambda f: listing.cursor(st, first_key),
            "endCursor": lambda f: listing.cursor(st, last_key),
        }
        return st.obj("PageInfo", pick.sub, fields)

    def total_count(pick: Pick) -> str:
        c = st.alias("b")
        counted = _conditions(st, listing.table, c, filter_shape, f"{i}.filter")
        source = f"{listing.from_(st, c)} WHERE TRUE{counted}{listing.visible(st, c)}"
        return st.d.number(f"(SELECT count(*) FROM {source})", False)

    fields = {"edges": edges, "pageInfo": page_info, "totalCount": total_count}
    connection = st.obj(f"{listing.type_name}Connection", read.picks, fields)
    # count(*) makes it an aggregate query, which gives one row even for an empty page.
    return f"(SELECT CASE WHEN count(*) >= 0 THEN {connection} END FROM {page})"


VALUE_LISTS = {
    "dplanCodes": ("dplan_codes", "DplanCode"),
    "dplanSources": ("dplan_sources", "DplanSource"),
}


def _root(st: Statement, i: int, read: RootRead) -> str:
    kind, picks = read.kind, read.picks
    if kind == "student":
        netid = st.param(f"{i}.netid")
        return objects.one_student(st, lambda s: f"{s}.netid = {netid}", picks)
    if kind == "plan":
        if read.shape == "missing":
            return "'null'"
        plan_id = st.param(f"{i}.id")
        return objects.one_plan(st, lambda a: f"{a}.id = {plan_id}", picks)
    if kind in LISTINGS:
        return _connection(st, i, read)
    if kind == "sisTerms":
        q = st.alias("q")
        filters = _conditions(st, SIS_TERMS, q, read.shape, f"{i}.filter")
        source = f"sis_terms {q} WHERE TRUE{filters}"
        return st.d.array(objects.sis_term(st, q, picks), source, f"{q}.id")
    if kind in VALUE_LISTS:
        c, (table, type_name) = st.alias("c"), VALUE_LISTS[kind]
        item = objects.code_and_description(st, type_name, c, picks)
        return st.d.array(item, f"{table} {c}", f"{c}.id")
    if kind == "__typename":
        return "'\"Query\"'"
    if kind == "null":
        return "'null'"
    raise objects.Unplannable(f"Query.{kind}")


def _disclosed(st: Statement, i: int, read: RootRead) -> list[str]:
    """Rows (`n` a netid, `t` its joined record types) of the students root field `i` shows
    (visible ones only: a hidden student is not in the answer); see `disclosed`."""
    kind, picks = read.kind, read.picks
    if kind == "student":
        s, netid = st.alias("s"), st.param(f"{i}.netid")
        netids = f"SELECT {s}.netid AS n FROM students {s} WHERE {s}.netid = {netid}"
        return disclosed.student_rows(st, netids + st.visible_student(s), picks)
    if kind == "plan" and read.shape != "missing":
        return disclosed.plan_rows(st, st.param(f"{i}.id"), picks, visible=True)
    if kind not in LISTINGS:
        return []
    counted = _count_disclosed(st, i, read) if any(p.field == "totalCount" for p in picks) else []
    nodes = disclosed.page_picks(picks)
    if nodes is None:
        return counted
    p, column = st.alias("p"), LISTINGS[kind].key
    page = f"{_page(st, i, read)} {p} WHERE {p}.rn <= {_first(st, i)}"
    keys = f"SELECT {p}.{column} AS n FROM {page}"
    if kind == "students":
        return [*counted, *disclosed.student_rows(st, keys, nodes)]
    return [*counted, *disclosed.plan_rows(st, keys, nodes, visible=False)]  # of visible plans


def _count_disclosed(st: Statement, i: int, read: RootRead) -> list[str]:
    """Rows of the students connection `i`'s `totalCount` discloses (see `disclosed.count_rows`)."""
    listing, shape = LISTINGS[read.kind], read.shape[0]
    c = st.alias("c")
    filters = _conditions(st, listing.table, c, shape, f"{i}.filter")
    counted = (
        f"SELECT {c}.{listing.student} AS n FROM {listing.from_(st, c)} "
        f"WHERE TRUE{filters}{listing.visible(st, c)}"
    )
    return disclosed.count_rows(st, counted, shape, listing.student, f"{i}.filter")


def compile_data(
    dialect: Dialect, reads: Sequence[RootRead], *, include_protected: bool, record: bool = False
) -> Compiled:
    """One statement returning the JSON text of an operation's `data`: `{"key":value,...}`.
    With `record`, the students it shows are recorded as disclosed (`recording` below)."""
    st = Statement(dialect, include_protected=include_protected)
    for read in reads:
        if not objects.NAME.match(read.key):  # response keys are GraphQL names
            raise ValueError(f"not a name: {read.key!r}")
    parts = [
        f"'{'{' if i == 0 else ','}\"{read.key}\":' || {_root(st, i, read)}"
        for i, read in enumerate(reads)
    ]
    body = " || ".join(parts) + " || '}'" if parts else "'{}'"
    shown = [row for i, read in enumerate(reads) if record for row in _disclosed(st, i, read)]
    return finish(st, f"SELECT {body}", shown)


# The slots of who receives a disclosure (app.domain.disclosures.Recipient).
RECIPIENT_SLOTS = (
    "recipient.sub",
    "recipient.operation",
    "recipient.scopes",
    "recipient.request_id",
    "recipient.count_threshold",
    "recipient.synchronous_commit",
)
# What the transaction that writes disclosure records commits with (Recipient's
# `synchronous_commit`; NULL: the server's own). `set_config(..., true)` lasts until the end of
# the transaction: a lone statement's own, which PostgreSQL commits at its Sync, so it needs no
# BEGIN and leaves nothing on the server connection (safe behind a transaction pooler).
# Evaluated for a statement that inserts at least one row: the only commit it can change.
SYNCHRONOUS_COMMIT = (
    "(SELECT set_config('synchronous_commit', "
    "coalesce(CAST({value} AS TEXT), current_setting('synchronous_commit')), true) AS s)"
)


def _recording(st: Statement, shown: list[str]) -> str:
    """PostgreSQL: a data-modifying CTE writes the disclosure records in the statement that
    reads, so the data cannot leave without them (it runs to completion whether or not the
    query reads it). One record per combination of record types, holding the netids of the
    students shown with exactly those (each student's types merged across root fields)."""
    sub, operation, scopes, request_id = (st.param(s) for s in RECIPIENT_SLOTS[:4])
    durability = SYNCHRONOUS_COMMIT.format(value=st.param(RECIPIENT_SLOTS[5]))
    if len(shown) == 1:  # a source names each student once (see `disclosed`): nothing to merge
        merged = shown[0]
    else:
        merged = (
            "SELECT x.n AS n, string_agg(DISTINCT k.k, ',' ORDER BY k.k) AS t "
            f"FROM ({' UNION ALL '.join(shown)}) x "
            "CROSS JOIN LATERAL unnest(string_to_array(x.t, ',')) AS k(k) GROUP BY x.n"
        )
    return (
        "recorded AS (INSERT INTO disclosures "
        "(at, sub, operation, record_types, scopes, request_id, netids) "
        f"SELECT {st.param('now')}, {sub}, {operation}, y.t, {scopes}, {request_id}, "
        f"array_agg(y.n ORDER BY y.n) FROM ({merged}) y CROSS JOIN {durability} d "
        "GROUP BY y.t)"
    )


def finish(st: Statement, select: str, shown: Sequence[str] = ()) -> Compiled:
    """The statement with its CTEs. Students `shown` (see `_disclosed`) are recorded in it on
    PostgreSQL; SQLite, which has no data-modifying CTE, and a read-only replica return them as
    a last column (`[[netid, types], ...]`) for the caller to record before it answers."""
    ctes = [st.current_term_cte()] if st.uses_current_term else []
    disclosed = ""
    if shown and st.d.records_in_statement:
        ctes.append(_recording(st, list(shown)))
        disclosed = "recorded"
    elif shown:
        select += f", ({st.d.shown_pairs(' UNION ALL '.join(shown))})"
        disclosed = "returned"
    if ctes:
        select = f"WITH {', '.join(ctes)} {select}"
    return Compiled(select, tuple(st.slots), disclosed)
