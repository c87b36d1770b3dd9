"""The DartAPI compat reads as single statements: the seed samples' shapes are picks of the same
object builders GraphQL's planned reads use, under the REST field names, in the samples' order.

A collection's first page is one statement: whether its student is visible, how many rows match,
the page's JSON, and, only when there is a second page, every matching key (to keep as a found
set). A later page is one statement over the found set's keys."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.disclosures import DPLANS, TERMS, joined
from app.domain.disclosures import PLANS as PLANS_RECORD
from app.domain.disclosures import STUDENT as STUDENT_RECORD
from app.domain.filters import Condition
from app.errors import Invalid, Problem
from app.repositories import terms as terms_repo
from app.repositories.filtering import to_flag
from app.repositories.json_reads import disclosed, objects
from app.repositories.json_reads.dialects import Dialect
from app.repositories.json_reads.filters import (
    Shape,
    Special,
    Table,
    current_term_offset,
    where,
)
from app.repositories.json_reads.objects import Pick, Rows, Statement
from app.repositories.json_reads.roots import PLANS, Compiled, finish

STUDENT = (
    Pick("netid", "netid"),
    Pick("first_name", "firstName"),
    Pick("middle_name", "middleName"),
    Pick("last_name", "lastName"),
    Pick("name", "name"),
    Pick("class_year", "classYear"),
    Pick("school_code", "schoolCode"),
    Pick("ferpa_protected", "ferpaProtected"),
    Pick(
        "dplans",
        "dplans",
        (
            Pick("dplan_description", "dplanDescription"),
            Pick("dplan_source_id", "dplanSourceId"),
            Pick("dplan_id", "dplanId"),
            Pick("dplan_source_description", "dplanSourceDescription"),
            Pick("term_code", "termCode"),
        ),
    ),
)
TERM = (
    Pick("netid", "netid"),
    Pick("term_id", "termId"),
    Pick("school_id", "schoolId"),
    Pick("is_active", "isActive"),
    Pick("start_date", "startDate"),
    Pick("end_date", "endDate"),
    Pick(
        "lms_term",
        "lmsTerm",
        (
            Pick("id", "id"),
            Pick("name", "name"),
            Pick("is_course_send_enabled", "isCourseSendEnabled"),
            Pick("is_enroll_send_enabled", "isEnrollSendEnabled"),
        ),
    ),
    Pick(
        "quarterly_term",
        "quarterlyTerm",
        (
            Pick("id", "id"),
            Pick("name", "name"),
            Pick("start_date", "startDate"),
            Pick("end_date", "endDate"),
            Pick("current_term_offset", "currentTermOffset"),
        ),
    ),
    Pick("term_description", "termDescription", (Pick("id", "id"), Pick("name", "name"))),
    Pick("id", "id"),
)
PLAN = (
    Pick("id", "planId"),
    Pick("type", "type"),
    Pick("state", "state"),
    Pick("name", "name"),
    Pick("parent_id", "parentId"),
    Pick("updated", "updated:flag"),
    Pick("dropped", "dropped:flag"),
    Pick("department", "department"),
    Pick("student_netid", "studentNetid"),
    Pick("faculty_netid", "facultyNetid"),
    Pick("internal_comment", "internalComment"),
    Pick("student_rationale", "studentRationale"),
    Pick("denial_reason", "denialReason"),
    Pick("prerequisites", "prerequisites"),
    Pick("culminating_experience", "culminatingExperience"),
    Pick("approval_comment", "approvalComment"),
    Pick("student_comments", "studentComments"),
    Pick("db_name", "dbName"),
    Pick("updated_at", "updatedAt"),
)


# --- the terms route's computed filters -------------------------------------------------------


def _bad_filter(field: str, message: str) -> Invalid:
    return Invalid("bad filter", [Problem(field, message)])


def _active_clause(st: Statement, a: str, op: str, param: str) -> str:
    return f"coalesce({a}.quarterly_term_id = {st.current_term_id()}, FALSE) = {param}"


def active_value(cond: Condition) -> bool:
    """`is_active=Y|N` (or true/false): the computed flag, equality only."""
    try:
        if cond.op != "eq":
            raise ValueError("takes Y or N only, no range or prefix")
        return to_flag(cond.value)
    except ValueError as exc:
        raise _bad_filter(cond.field, f"{cond.value!r}: {exc}") from exc


TERM_OFFSET = "quarterly_term.current_term_offset"
STUDENT_TERMS = Table(
    "student_terms",
    terms_repo.STUDENT_TERM_FIELDS,
    {
        TERM_OFFSET: current_term_offset("quarterly_term_id"),
        "is_active": Special(_active_clause, active_value),
    },
)


# --- statements -----------------------------------------------------------------------------------


def _student_shown(st: Statement, record_types: str) -> str:
    """The `netid` student, if the caller may see it, as disclosed (see roots._disclosed)."""
    s, netid = st.alias("s"), st.param("netid")
    source = f"students {s} WHERE {s}.netid = {netid}{st.visible_student(s)}"
    return f"SELECT {s}.netid AS n, '{record_types}' AS t FROM {source}"


def _plans_shown(st: Statement, rows: Rows, limit: str | None = None) -> str:
    """The students of the plans `rows` (the first `limit`), as disclosed."""
    a = rows.order.split(".")[0]
    limited = f" LIMIT {limit}" if limit is not None else ""
    page = f"SELECT {a}.student_netid AS n FROM {rows.source} ORDER BY {rows.order}{limited}"
    return f"SELECT DISTINCT x.n AS n, '{PLANS_RECORD}' AS t FROM ({page}) x"


def student(dialect: Dialect, include_protected: bool, record: bool = False) -> Compiled:
    """`GET /api/students/{netid}`: the student with its D-plans, or NULL. With `record`, the
    student shown is recorded as disclosed (app.repositories.json_reads.roots.finish)."""
    st = Statement(dialect, include_protected=include_protected)
    netid = st.param("netid")
    select = "SELECT " + objects.one_student(st, lambda s: f"{s}.netid = {netid}", STUDENT)
    return finish(st, select, [_student_shown(st, joined((STUDENT_RECORD, DPLANS)))] * record)


def plan(dialect: Dialect, include_protected: bool, record: bool = False) -> Compiled:
    """`GET /api/academic/plans/{id}`: the plan, or NULL."""
    st = Statement(dialect, include_protected=include_protected)
    plan_id = st.param("id")
    select = "SELECT " + objects.one_plan(st, lambda a: f"{a}.id = {plan_id}", PLAN)
    a = st.alias("a")
    shown = Rows("", f"{objects.visible_plans(st, a)} WHERE {a}.id = {plan_id}", f"{a}.id")
    return finish(st, select, [_plans_shown(st, shown)] * record)


@dataclass(frozen=True)
class Listing:
    """One compat collection: `terms` (of a student), `student_plans`, or `plans`."""

    kind: str

    @property
    def table(self) -> Table:
        return STUDENT_TERMS if self.kind == "terms" else PLANS

    def rows(self, st: Statement, extra: str) -> Rows:
        """The collection's rows (filtered by `extra`, SQL on the rows' alias placeholder)."""
        if self.kind == "terms":
            netid = st.param("netid")
            hidden = "" if st.include_protected else f" AND {self.found(st)}"
            return objects.terms(
                st, lambda t: f"{t}.netid = {netid}{hidden}{extra.format(t)}", TERM
            )
        a = st.alias("a")
        item = objects.academic_plan(st, a, PLAN)
        own = (
            f" AND {a}.student_netid = {st.param('netid')}" if self.kind == "student_plans" else ""
        )
        source = f"{objects.visible_plans(st, a)} WHERE TRUE{own}{extra.format(a)}"
        return Rows(item, source, f"{a}.id")

    def key(self, rows: Rows) -> str:
        alias = rows.order.split(".")[0]
        return f"{alias}.id"

    def shown(self, st: Statement, rows: Rows, limit: str | None = None) -> str:
        """The students this collection's `rows` show, as disclosed."""
        if self.kind == "plans":
            return _plans_shown(st, rows, limit)
        return _student_shown(st, TERMS if self.kind == "terms" else PLANS_RECORD)

    def count_shown(self, st: Statement, shape: Shape) -> list[str]:
        """The students the collection's `X-Total-Count` discloses (disclosed.count_rows): of
        all plans; a student's terms or plans count only that student's own records, which
        `shown` records whatever the page holds."""
        if self.kind != "plans":
            return []
        rows = self.rows(st, _filters(st, self, shape))
        a = rows.order.split(".")[0]
        counted = f"SELECT {a}.student_netid AS n FROM {rows.source}"
        return disclosed.count_rows(st, counted, shape, "student_netid", "filter")

    def found(self, st: Statement) -> str:
        """Whether the collection's owner exists for the caller (a hidden student's is a 404)."""
        if self.kind == "plans":
            return "TRUE"
        s, netid = st.alias("s"), st.param("netid")
        return (
            f"EXISTS (SELECT 1 FROM students {s} WHERE {s}.netid = {netid}{st.visible_student(s)})"
        )


def _filters(st: Statement, listing: Listing, shape: Shape) -> str:
    clauses = where(st, listing.table, "{0}", shape, "filter")
    return "".join(f" AND {c}" for c in clauses)


# The most keys a first page reads to keep (app/services/found_sets.py packs as many of them as
# fit FOUND_SET_MAX_BYTES: consecutive ids pack to a few bytes each thousand, so a dense set
# keeps all of these; past them a later page reads the rest by query, `rest_keys`).
KEYS_READ = 20_000


def first_page(
    dialect: Dialect, listing: Listing, shape: Shape, *, include_protected: bool, record: bool
) -> Compiled:
    """found, total, the first page's JSON, and (only past one page) the first KEYS_READ keys in
    order and, for plans, the highest plan id (the bound of a query for the rest)."""
    st = Statement(dialect, include_protected=include_protected)
    counted = listing.rows(st, _filters(st, listing, shape))
    paged = listing.rows(st, _filters(st, listing, shape))
    keyed = listing.rows(st, _filters(st, listing, shape))
    total = f"(SELECT count(*) FROM {counted.source})"
    size = f"CAST({st.param('pagesize')} AS BIGINT)"
    page = dialect.array(paged.item, paged.source, paged.order, limit=size)
    key = listing.key(keyed)
    key_json = dialect.string(key, False) if listing.kind == "terms" else dialect.number(key)
    keys = dialect.array(key_json, keyed.source, keyed.order, limit=str(KEYS_READ))
    more = f"{total} > {size}"
    bound = "NULL"
    if listing.kind != "terms":
        x = st.alias("x")
        bound = f"CASE WHEN {more} THEN (SELECT max({x}.id) FROM academic_plans {x}) END"
    select = (
        f"SELECT {listing.found(st)}, {total}, {page}, CASE WHEN {more} THEN {keys} END, {bound}"
    )
    disclosed_rows = []
    if record:
        shown = listing.rows(st, _filters(st, listing, shape))
        disclosed_rows = [listing.shown(st, shown, size), *listing.count_shown(st, shape)]
    return finish(st, select, disclosed_rows)


def rest_keys(
    dialect: Dialect, listing: Listing, shape: Shape, *, include_protected: bool
) -> Compiled:
    """The keys of a found set past those it kept: the JSON array of `limit` keys from place
    `offset` of the collection under the first request's filter (`shape`), plans no newer than
    `bound` (the highest id then)."""
    st = Statement(dialect, include_protected=include_protected)
    extra = _filters(st, listing, shape)
    if listing.kind != "terms":
        extra += " AND {0}.id <= " + st.param("bound")
    rows = listing.rows(st, extra)
    key = listing.key(rows)
    key_json = dialect.string(key, False) if listing.kind == "terms" else dialect.number(key)
    window = f"CAST({st.param('limit')} AS BIGINT) OFFSET CAST({st.param('offset')} AS BIGINT)"
    return finish(st, f"SELECT {dialect.array(key_json, rows.source, rows.order, limit=window)}")


def later_page(
    dialect: Dialect, listing: Listing, *, include_protected: bool, record: bool
) -> Compiled:
    """found, and the JSON of the rows of some keys (those still visible), in order."""
    st = Statement(dialect, include_protected=include_protected)
    rows = listing.rows(st, "")
    key_type = "TEXT" if listing.kind == "terms" else "BIGINT"
    keys = dialect.any_of(listing.key(rows), st.param("keys"), key_type)
    page = dialect.array(rows.item, f"{rows.source} AND {keys}", rows.order)
    shown = [listing.shown(st, Rows("", f"{rows.source} AND {keys}", rows.order))] * record
    return finish(st, f"SELECT {listing.found(st)}, {page}", shown)
