"""The API's object types as SQL text expressions that build their JSON, one per row.

A `Pick` says what an answer shows of an object: an entry's key (a GraphQL response key or a REST
field name), the schema field it holds, and, for an object or list field, what is picked of that.
Each type below maps its fields to SQL; nested lists are correlated subqueries aggregated in the
order the loaders read them, so one statement answers any depth. A field not mapped here raises
`Unplannable` and the caller answers another way (the dataloaders)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from app.repositories.json_reads.dialects import Dialect

NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


# What one `Pick` (a frozen dataclass, and its place in its parent's tuple) keeps alive,
# approximately (measured: ~106 bytes); the strings it names are the document's own.
PICK_BYTES = 128


@dataclass(frozen=True)
class Pick:
    key: str
    field: str
    sub: tuple[Pick, ...] = ()


def picks_bytes(picks: Iterable[Pick]) -> int:
    """The approximate bytes of a tree of picks (linear in the picks, without recursion)."""
    count, stack = 0, list(picks)
    while stack:
        pick = stack.pop()
        count += 1
        stack.extend(pick.sub)
    return PICK_BYTES * count


def picks_signature(picks: Iterable[Pick], parts: list[str]) -> None:
    """Appends to `parts` a text naming a tree of picks (`key:field(sub,...),`): keys and
    fields are GraphQL names, so the punctuation cannot be confused with them."""
    for pick in picks:
        parts += (pick.key, ":", pick.field)
        if pick.sub:
            parts.append("(")
            picks_signature(pick.sub, parts)
            parts.append(")")
        parts.append(",")


class Unplannable(Exception):
    """The selection holds something these builders do not know."""


Where = Callable[[str], str]  # the alias of the rows being read -> the SQL condition on them
Fields = Mapping[str, Callable[[Pick], str]]


def ordinal(term_id: str) -> str:
    """`app.domain.terms.ordinal` in SQL: a quarterly term's position in the calendar."""
    season = f"CASE substr({term_id}, 5, 2) WHEN '01' THEN 0 WHEN '03' THEN 1 WHEN '06' THEN 2 "
    return f"(CAST(substr({term_id}, 1, 4) AS INTEGER) * 4 + {season}ELSE 3 END)"


def _quoted(expr: str) -> str:
    return f"'\"' || {expr} || '\"'"  # only for text that needs no escaping (base64, digits)


class Statement:
    """What one SQL statement is being built with: the dialect, whether FERPA-protected students
    exist for the caller, the parameters it binds (by slot name), and its table aliases."""

    def __init__(self, dialect: Dialect, *, include_protected: bool) -> None:
        self.d = dialect
        self.include_protected = include_protected
        self.slots: list[str] = []
        self.uses_current_term = False
        self._aliases = 0

    def param(self, slot: str) -> str:
        if slot not in self.slots:
            self.slots.append(slot)
        return self.d.param(self.slots.index(slot) + 1)

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def obj(self, type_name: str, picks: tuple[Pick, ...], fields: Fields) -> str:
        """`{"key":value,...}` in pick order."""
        parts: list[str] = []
        for i, pick in enumerate(picks):
            if not NAME.match(pick.key):  # keys are GraphQL names or REST field names
                raise ValueError(f"not a name: {pick.key!r}")
            opening = "{" if i == 0 else ","
            if pick.field == "__typename":
                value = f"'\"{type_name}\"'"
            elif pick.field in fields:
                value = fields[pick.field](pick)
            else:
                raise Unplannable(f"{type_name}.{pick.field}")
            parts.append(f"'{opening}\"{pick.key}\":' || {value}")
        return " || ".join(parts) + " || '}'" if parts else "'{}'"

    def one(self, item: str, source: str) -> str:
        """The object of the one row of `source`, or null when there is none."""
        return f"coalesce((SELECT {item} FROM {source}), 'null')"

    # --- what is "now": the quarterly term in progress (a CTE named `cur`) ---------------------

    def current_term_id(self) -> str:
        self.uses_current_term = True
        return "(SELECT id FROM cur)"

    def current_ordinal(self) -> str:
        self.uses_current_term = True
        return "(SELECT ord FROM cur)"

    def current_term_cte(self) -> str:
        now = self.param("now")
        return (
            f"cur AS (SELECT c.id AS id, {ordinal('c.id')} AS ord FROM sis_terms c "
            f"WHERE c.start_date <= {now} AND c.end_date > {now} LIMIT 1)"
        )

    def visible_student(self, alias: str) -> str:
        return "" if self.include_protected else f" AND NOT {alias}.ferpa_protected"


# --- reference types ----------------------------------------------------------------------------


def sis_term(st: Statement, q: str, picks: tuple[Pick, ...]) -> str:
    d = st.d
    return st.obj(
        "SisTerm",
        picks,
        {
            "id": lambda p: d.string(f"{q}.id", False),
            "name": lambda p: d.string(f"{q}.name", False),
            "startDate": lambda p: d.timestamp(f"{q}.start_date", False),
            "endDate": lambda p: d.timestamp(f"{q}.end_date", False),
            "currentTermOffset": lambda p: d.number(
                f"{ordinal(f'{q}.id')} - {st.current_ordinal()}"
            ),
        },
    )


def code_and_description(st: Statement, type_name: str, a: str, picks: tuple[Pick, ...]) -> str:
    """`DplanCode` and `DplanSource`: an id and a description."""
    d = st.d
    fields: Fields = {
        "id": lambda p: d.string(f"{a}.id", False),
        "description": lambda p: d.string(f"{a}.description", False),
    }
    return st.obj(type_name, picks, fields)


# --- a student's terms --------------------------------------------------------------------------


def _term(st: Statement, t: str, q: str, lms: str, desc: str, picks: tuple[Pick, ...]) -> str:
    d = st.d
    lms_fields: Fields = {
        "id": lambda p: d.string(f"{lms}.id", False),
        "name": lambda p: d.string(f"{lms}.name", False),
        "isCourseSendEnabled": lambda p: d.boolean(f"{lms}.is_course_send_enabled", False),
        "isEnrollSendEnabled": lambda p: d.boolean(f"{lms}.is_enroll_send_enabled", False),
    }
    desc_fields: Fields = {
        "id": lambda p: d.string(f"{desc}.id", False),
        "name": lambda p: d.string(f"{desc}.name", False),
    }

    def lms_term(p: Pick) -> str:
        lms_obj = st.obj("LmsTerm", p.sub, lms_fields)
        return f"CASE WHEN {t}.lms_term_id IS NULL THEN 'null' ELSE {lms_obj} END"

    def term_description(p: Pick) -> str:
        desc_obj = st.obj("TermDescription", p.sub, desc_fields)
        return f"CASE WHEN {t}.term_description_id IS NULL THEN 'null' ELSE {desc_obj} END"

    return st.obj(
        "StudentTerm",
        picks,
        {
            "id": lambda p: d.string(f"{t}.id", False),
            "netid": lambda p: d.string(f"{t}.netid", False),
            "termId": lambda p: d.string(f"{t}.term_id", False),
            "schoolId": lambda p: d.string(f"{t}.school_id"),
            "isActive": lambda p: d.boolean(
                f"coalesce({t}.quarterly_term_id = {st.current_term_id()}, FALSE)", False
            ),
            "startDate": lambda p: d.timestamp(f"{t}.start_date"),
            "endDate": lambda p: d.timestamp(f"{t}.end_date"),
            "lmsTerm": lms_term,
            "quarterlyTerm": lambda p: sis_term(st, q, p.sub),
            "termDescription": term_description,
        },
    )


@dataclass(frozen=True)
class Rows:
    """Rows to show: the JSON text of one row, `FROM ... WHERE ...`, and their order."""

    item: str
    source: str
    order: str

    def array(self, st: Statement) -> str:
        return st.d.array(self.item, self.source, self.order)


def terms(st: Statement, where: Where, picks: tuple[Pick, ...]) -> Rows:
    """A student's terms, in the loaders' order (quarterly term, then term id)."""
    t, q, lms, desc = st.alias("t"), st.alias("q"), st.alias("l"), st.alias("d")
    item = _term(st, t, q, lms, desc, picks)
    source = f"student_terms {t} JOIN sis_terms {q} ON {q}.id = {t}.quarterly_term_id"
    if f"{lms}." in item:
        source += f" LEFT JOIN lms_terms {lms} ON {lms}.id = {t}.lms_term_id"
    if f"{desc}." in item:
        source += f" LEFT JOIN term_descriptions {desc} ON {desc}.id = {t}.term_description_id"
    return Rows(item, f"{source} WHERE {where(t)}", f"{t}.quarterly_term_id, {t}.term_id")


# --- D-plans ------------------------------------------------------------------------------------


def dplans_array(st: Statement, where: Where, picks: tuple[Pick, ...]) -> str:
    rows = dplan_rows(st, where, picks)
    return st.d.array(rows.item, rows.source, rows.order)


def dplan_rows(st: Statement, where: Where, picks: tuple[Pick, ...]) -> Rows:
    """D-plans matching `where`, by term code (a student's are `dplans_array`)."""
    d = st.d
    x, code, src, q = st.alias("x"), st.alias("c"), st.alias("o"), st.alias("q")
    item = st.obj(
        "Dplan",
        picks,
        {
            "termCode": lambda p: d.string(f"{x}.term_code", False),
            "term": lambda p: sis_term(st, q, p.sub),
            "dplanId": lambda p: d.string(f"{x}.dplan_id", False),
            "dplanDescription": lambda p: d.string(f"{code}.description", False),
            "dplanSourceId": lambda p: d.string(f"{x}.dplan_source_id", False),
            "dplanSourceDescription": lambda p: d.string(f"{src}.description", False),
            "updatedAt": lambda p: d.timestamp(f"{x}.updated_at", False),
        },
    )
    source = (
        f"student_dplans {x} JOIN dplan_codes {code} ON {code}.id = {x}.dplan_id "
        f"JOIN dplan_sources {src} ON {src}.id = {x}.dplan_source_id "
        f"JOIN sis_terms {q} ON {q}.id = {x}.term_code WHERE {where(x)}"
    )
    return Rows(item, source, f"{x}.term_code")


# --- students and academic plans ------------------------------------------------------------------


def student(st: Statement, s: str, picks: tuple[Pick, ...]) -> str:
    d = st.d
    names = " || ".join(
        f"coalesce(' ' || nullif({s}.{n}, ''), '')"
        for n in ("first_name", "middle_name", "last_name")
    )
    return st.obj(
        "Student",
        picks,
        {
            "id": lambda p: _quoted(d.base64(f"'Student:' || {s}.netid")),
            "netid": lambda p: d.string(f"{s}.netid", False),
            "firstName": lambda p: d.string(f"{s}.first_name", False),
            "middleName": lambda p: d.string(f"{s}.middle_name"),
            "lastName": lambda p: d.string(f"{s}.last_name", False),
            "classYear": lambda p: d.number(f"{s}.class_year"),
            "schoolCode": lambda p: d.string(f"{s}.school_code"),
            "ferpaProtected": lambda p: d.boolean(f"{s}.ferpa_protected", False),
            # Student.name: the non-empty names joined by spaces.
            "name": lambda p: d.string(f"substr({names}, 2)", False),
            "terms": lambda p: terms(st, lambda t: f"{t}.netid = {s}.netid", p.sub).array(st),
            "plans": lambda p: plans_array(st, lambda a: f"{a}.student_netid = {s}.netid", p.sub),
            "dplans": lambda p: dplans_array(st, lambda x: f"{x}.netid = {s}.netid", p.sub),
        },
    )


def one_student(st: Statement, where: Where, picks: tuple[Pick, ...]) -> str:
    """The student matching `where`, if the caller may see it; else null."""
    s = st.alias("s")
    return st.one(student(st, s, picks), f"students {s} WHERE {where(s)}{st.visible_student(s)}")


def academic_plan(st: Statement, a: str, picks: tuple[Pick, ...]) -> str:
    d = st.d
    text = {
        "type": "type",
        "state": "state",
        "name": "name",
        "studentNetid": "student_netid",
    }
    nullable_text = {
        "department": "department",
        "facultyNetid": "faculty_netid",
        "internalComment": "internal_comment",
        "studentRationale": "student_rationale",
        "denialReason": "denial_reason",
        "prerequisites": "prerequisites",
        "culminatingExperience": "culminating_experience",
        "approvalComment": "approval_comment",
        "studentComments": "student_comments",
        "dbName": "db_name",
    }

    def column(name: str, nullable: bool) -> Callable[[Pick], str]:
        return lambda p: d.string(f"{a}.{name}", nullable)

    fields = {k: column(c, False) for k, c in text.items()}
    fields.update({k: column(c, True) for k, c in nullable_text.items()})
    fields.update(
        {
            "id": lambda p: _quoted(d.base64(f"'AcademicPlan:' || CAST({a}.id AS TEXT)")),
            "planId": lambda p: _quoted(f"CAST({a}.id AS TEXT)"),
            "parentId": lambda p: d.number(f"{a}.parent_id"),
            "updated": lambda p: d.boolean(f"{a}.updated", False),
            "dropped": lambda p: d.boolean(f"{a}.dropped", False),
            # REST shows the two flags as "Y"/"N" (not GraphQL fields).
            "updated:flag": lambda p: f"CASE WHEN {a}.updated THEN '\"Y\"' ELSE '\"N\"' END",
            "dropped:flag": lambda p: f"CASE WHEN {a}.dropped THEN '\"Y\"' ELSE '\"N\"' END",
            "updatedAt": lambda p: d.timestamp(f"{a}.updated_at"),
            "parent": lambda p: one_plan(st, lambda b: f"{b}.id = {a}.parent_id", p.sub),
            "children": lambda p: children_array(st, a, p.sub),
            "student": lambda p: one_student(st, lambda s: f"{s}.netid = {a}.student_netid", p.sub),
        }
    )
    return st.obj("AcademicPlan", picks, fields)


def visible_plans(st: Statement, a: str) -> str:
    """`academic_plans a`, joined to keep only plans of students the caller may see."""
    if st.include_protected:
        return f"academic_plans {a}"
    s = st.alias("s")
    return (
        f"academic_plans {a} JOIN students {s} ON {s}.netid = {a}.student_netid "
        f"AND NOT {s}.ferpa_protected"
    )


def one_plan(st: Statement, where: Where, picks: tuple[Pick, ...]) -> str:
    """The plan matching `where`, if its student is visible to the caller; else null."""
    a = st.alias("a")
    return st.one(academic_plan(st, a, picks), f"{visible_plans(st, a)} WHERE {where(a)}")


def children_array(st: Statement, a: str, picks: tuple[Pick, ...]) -> str:
    """A plan's children: a child may be another student's plan, shown only if that student is
    visible to the caller (as the loaders read them)."""
    b = st.alias("a")
    item = academic_plan(st, b, picks)
    return st.d.array(item, f"{visible_plans(st, b)} WHERE {b}.parent_id = {a}.id", f"{b}.id")


def plans_array(st: Statement, where: Where, picks: tuple[Pick, ...]) -> str:
    """Plans of a student already visible to the caller (as the loaders read them)."""
    a = st.alias("a")
    item = academic_plan(st, a, picks)
    return st.d.array(item, f"academic_plans {a} WHERE {where(a)}", f"{a}.id")
