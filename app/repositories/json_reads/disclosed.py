"""The students a planned read shows, as rows (`n` a netid, `t` its record types joined) for the
statement to record as disclosed (app.domain.disclosures; roots.finish writes them).

Everything under one student (its terms, D-plans, plans, a plan's `student`) is that student's,
so its record types are known from the picks alone. A plan's `children` and `parent` may be
another student's plans: each gets rows of its own, read from the plans actually reached. The
types are what the selection asks of a student it shows, which can name a type of which nothing
was shown (a plan's `parent` that is null): a record may say more than was shown, never less."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.disclosures import COUNT, DPLANS, PLANS, STUDENT, TERMS, joined
from app.repositories.json_reads import objects
from app.repositories.json_reads.objects import Pick, Statement

Shape = tuple[tuple[str, str], ...]  # (field, operator) per condition (json_reads.filters)


def page_picks(picks: tuple[Pick, ...]) -> tuple[Pick, ...] | None:
    """What a connection's selection picks of its page's nodes (`edges { node { ... } }`;
    none for `edges { cursor }` or `pageInfo`, whose cursors name them too), or None when it
    shows nothing of its page (`totalCount` alone)."""
    if not any(p.field in ("edges", "pageInfo") for p in picks):
        return None
    nodes = [n for e in picks if e.field == "edges" for n in e.sub if n.field == "node"]
    return tuple(p for n in nodes for p in n.sub)


@dataclass
class _Fold:
    """One student's record types, and the plans reached through `children`/`parent` (as
    (SQL of their ids, their picks, whether FERPA visibility applies to them))."""

    st: Statement
    types: set[str] = field(default_factory=set)
    reached: list[tuple[str, tuple[Pick, ...], bool]] = field(default_factory=list)

    def student(self, picks: tuple[Pick, ...], plan_ids: str) -> None:
        """`plan_ids`: SQL of the ids of the student's plans (read only if picked)."""
        self.types.add(STUDENT)
        for pick in picks:
            if pick.field in ("terms", "dplans"):
                self.types.add(TERMS if pick.field == "terms" else DPLANS)
            elif pick.field == "plans":
                self.plan(pick.sub, plan_ids)

    def plan(self, picks: tuple[Pick, ...], ids: str) -> None:
        """`ids`: SQL of the ids of the plans shown with these picks."""
        self.types.add(PLANS)
        for pick in picks:
            if pick.field == "student":  # the plan's own student
                self.student(pick.sub, self._plans_of_students_of(ids))
            elif pick.field == "children":
                c = self.st.alias("c")
                children = f"SELECT {c}.id FROM academic_plans {c} WHERE {c}.parent_id IN ({ids})"
                self.reached.append((children, pick.sub, True))  # shown only if visible
            elif pick.field == "parent":
                c = self.st.alias("c")
                parent = f"SELECT {c}.parent_id FROM academic_plans {c} WHERE {c}.id IN ({ids})"
                self.reached.append((parent, pick.sub, True))  # shown only if visible

    def _plans_of_students_of(self, ids: str) -> str:
        p, x = self.st.alias("p"), self.st.alias("x")
        owners = f"SELECT {x}.student_netid FROM academic_plans {x} WHERE {x}.id IN ({ids})"
        return f"SELECT {p}.id FROM academic_plans {p} WHERE {p}.student_netid IN ({owners})"


def student_rows(st: Statement, netids: str, picks: tuple[Pick, ...]) -> list[str]:
    """Rows for the students whose netids `netids` (SQL: one column `n`, each visible student
    shown once) selects, shown with `picks`. Read from `netids` itself, not joined back to
    `students`: for a page of 100 that join was a scan of the whole table."""
    fold, p = _Fold(st), st.alias("p")
    fold.student(
        picks, f"SELECT {p}.id FROM academic_plans {p} WHERE {p}.student_netid IN ({netids})"
    )
    x = st.alias("x")
    own = f"SELECT {x}.n AS n, '{joined(fold.types)}' AS t FROM ({netids}) {x}"
    return [own, *_reached(st, fold)]


def plan_rows(st: Statement, ids: str, picks: tuple[Pick, ...], visible: bool) -> list[str]:
    """Rows for the students of the plans whose ids `ids` (SQL) selects, shown with `picks`
    (`visible`: only the plans of students the caller may see are shown); each student once."""
    a = st.alias("a")
    source = objects.visible_plans(st, a) if visible else f"academic_plans {a}"
    shown = f"SELECT {a}.id FROM {source} WHERE {a}.id IN ({ids})"
    fold = _Fold(st)
    fold.plan(picks, shown)
    b = st.alias("b")
    source = f"academic_plans {b} WHERE {b}.id IN ({shown})"
    own = f"SELECT DISTINCT {b}.student_netid AS n, '{joined(fold.types)}' AS t FROM {source}"
    return [own, *_reached(st, fold)]


def _reached(st: Statement, fold: _Fold) -> list[str]:
    return [
        row for ids, picks, visible in fold.reached for row in plan_rows(st, ids, picks, visible)
    ]


def _at_most_k(st: Statement, netids: str) -> str:
    """Rows (`n`, type `count`) of the netids `netids` (SQL: one column `n`) selects, only when
    it selects at most k (the recipient's count threshold): k + 1 are read, never more."""
    k = f"CAST({st.param('recipient.count_threshold')} AS BIGINT)"
    y, w = st.alias("y"), st.alias("w")
    sized = f"SELECT {y}.n AS n, count(*) OVER () AS m FROM ({netids} LIMIT {k} + 1) {y}"
    return f"SELECT DISTINCT {w}.n AS n, '{COUNT}' AS t FROM ({sized}) {w} WHERE {w}.m <= {k}"


def count_rows(st: Statement, counted: str, shape: Shape, netid_field: str, slot: str) -> list[str]:
    """Rows (`n`, type `count`) of the students a count discloses (the rule:
    app.domain.disclosures.NetidConditions): those it counted (`counted`: SQL of one column `n`,
    a row's student, over the rows counted) when at most k; each visible student its filter
    (`shape`, values bound at `<slot>.<j>`) names by netid; those a netid prefix of it matches
    when at most k. The planner's filters have no `not`: every netid condition is at the top."""
    rows = [_at_most_k(st, counted)]
    for j, (name, op) in enumerate(shape):
        if name != netid_field or op not in ("eq", "in", "prefix"):
            continue
        s, param = st.alias("s"), st.param(f"{slot}.{j}")
        match = {
            "eq": f"{s}.netid = {param}",
            "in": st.d.any_of(f"{s}.netid", param, "TEXT"),
            "prefix": f"{s}.netid LIKE {param} ESCAPE '\\'",
        }[op]
        students = f"SELECT {s}.netid AS n FROM students {s} WHERE {match}{st.visible_student(s)}"
        if op == "prefix":
            rows.append(_at_most_k(st, students))
        else:
            x = st.alias("x")
            rows.append(f"SELECT {x}.n AS n, '{COUNT}' AS t FROM ({students}) {x}")
    return rows
