"""The floor: the rows a scenario's answer holds, fetched with ONE raw SQL statement (SQLAlchemy
Core `text()` on an engine of its own) and encoded with orjson. No GraphQL, no HTTP, no ORM; what
any server answering the same question must at least do. Nested answers come from one UNION ALL
(every column cast to text so the branches line up on PostgreSQL too) grouped in Python."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def _cast(column: str) -> str:
    return f"CAST({column} AS VARCHAR)"


def nested_students_sql(netids: str) -> str:
    """Students in `netids` (a SQL subquery naming them), their terms (with quarterly, LMS and
    part-of-term names), plans and D-plans (with code and source descriptions)."""
    pad = ", NULL" * 4
    return f"""
SELECT 's' AS k, s.netid AS netid, s.first_name AS c1, s.last_name AS c2,
       {_cast("s.class_year")} AS c3, s.school_code AS c4, NULL AS c5, NULL AS c6, NULL AS c7,
       NULL AS c8, NULL AS c9, NULL AS c10, NULL AS c11
  FROM students s WHERE s.netid IN ({netids})
UNION ALL
SELECT 't', t.netid, t.id, t.term_id, {_cast("t.start_date")}, {_cast("t.end_date")},
       t.quarterly_term_id, q.name, t.lms_term_id, l.name, t.term_description_id, d.name, NULL
  FROM student_terms t
  JOIN sis_terms q ON q.id = t.quarterly_term_id
  LEFT JOIN lms_terms l ON l.id = t.lms_term_id
  LEFT JOIN term_descriptions d ON d.id = t.term_description_id
 WHERE t.netid IN ({netids})
UNION ALL
SELECT 'p', p.student_netid, {_cast("p.id")}, p.type, p.state, p.name, p.department,
       p.faculty_netid, {_cast("p.updated_at")}{pad}
  FROM academic_plans p WHERE p.student_netid IN ({netids})
UNION ALL
SELECT 'd', x.netid, x.term_code, x.dplan_id, c.description, x.dplan_source_id, src.description,
       {_cast("x.updated_at")}, NULL{pad}
  FROM student_dplans x
  JOIN dplan_codes c ON c.id = x.dplan_id
  JOIN dplan_sources src ON src.id = x.dplan_source_id
 WHERE x.netid IN ({netids})
"""


ONE_STUDENT = nested_students_sql(":netid")
FIRST_100 = nested_students_sql("SELECT netid FROM students ORDER BY netid LIMIT 100")
STUDENT_PAGE = """
SELECT netid, first_name AS "firstName", last_name AS "lastName", class_year AS "classYear",
       school_code AS "schoolCode" FROM students
 WHERE netid > :after ORDER BY netid LIMIT 100
"""
PLAN_PAGE = """
SELECT id, type, state, name, parent_id, updated, dropped, department, student_netid,
       faculty_netid, internal_comment, student_rationale, denial_reason, prerequisites,
       culminating_experience, approval_comment, student_comments, db_name, updated_at
  FROM academic_plans WHERE id > :after ORDER BY id LIMIT 1000
"""
UPSERT_DPLAN = """
INSERT INTO student_dplans (netid, term_code, dplan_id, dplan_source_id, updated_at)
VALUES (:netid, :term_code, :dplan_id, :dplan_source_id, CURRENT_TIMESTAMP)
ON CONFLICT (netid, term_code) DO UPDATE
   SET dplan_id = excluded.dplan_id, dplan_source_id = excluded.dplan_source_id,
       updated_at = excluded.updated_at
"""


def group_nested(rows: list[Any]) -> list[dict[str, Any]]:
    """UNION rows -> the nested document (students in netid order, lists under each)."""
    students: dict[str, dict[str, Any]] = {}
    children: list[Any] = []
    for row in rows:
        if row[0] == "s":
            students[row[1]] = {
                "netid": row[1],
                "firstName": row[2],
                "lastName": row[3],
                "classYear": row[4],
                "schoolCode": row[5],
                "terms": [],
                "plans": [],
                "dplans": [],
            }
        else:
            children.append(row)
    for row in children:
        student = students.get(row[1])
        if student is None:
            continue
        if row[0] == "t":
            student["terms"].append(
                {
                    "id": row[2],
                    "termId": row[3],
                    "startDate": row[4],
                    "endDate": row[5],
                    "quarterlyTerm": {"id": row[6], "name": row[7]},
                    "lmsTerm": {"id": row[8], "name": row[9]},
                    "termDescription": {"id": row[10], "name": row[11]},
                }
            )
        elif row[0] == "p":
            student["plans"].append(
                dict(
                    zip(
                        ("planId", "type", "state", "name", "department", "facultyNetid"),
                        row[2:8],
                        strict=True,
                    ),
                    updatedAt=row[8],
                )
            )
        else:
            student["dplans"].append(
                {
                    "termCode": row[2],
                    "dplanId": row[3],
                    "dplanDescription": row[4],
                    "dplanSourceId": row[5],
                    "dplanSourceDescription": row[6],
                    "updatedAt": row[7],
                }
            )
    return [students[k] for k in sorted(students)]


class Floor:
    """The floor's operations, on an engine separate from the app's."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.after = ""
        self.pages_done = 0
        self.after_plan = -1

    async def _rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def one_student(self, netid: str) -> bytes:
        students = group_nested(await self._rows(ONE_STUDENT, netid=netid))
        return orjson.dumps({"data": {"student": students[0] if students else None}})

    async def first_100(self) -> bytes:
        students = group_nested(await self._rows(FIRST_100))
        return orjson.dumps({"data": {"students": students}})

    async def next_page(self, pages: int) -> bytes:
        """The next page of 100 students (keyset), wrapping after `pages` pages like the app."""
        rows = await self._rows(STUDENT_PAGE, after=self.after)
        self.after = rows[-1][0] if rows else ""
        self.pages_done += 1
        if self.pages_done >= pages or not rows:
            self.after, self.pages_done = "", 0
        return orjson.dumps({"data": [dict(r._mapping) for r in rows]})

    async def next_plan_page(self) -> bytes:
        """The next 1,000 plans (keyset on id), starting over after the last."""
        rows = await self._rows(PLAN_PAGE, after=self.after_plan)
        self.after_plan = rows[-1][0] if len(rows) == 1000 else -1
        return orjson.dumps([dict(r._mapping) for r in rows])

    async def upsert_dplan(self, netid: str, term_code: str, dplan_id: str) -> bytes:
        params = {"netid": netid, "term_code": term_code, "dplan_id": dplan_id}
        async with self.engine.begin() as conn:
            await conn.execute(text(UPSERT_DPLAN), {**params, "dplan_source_id": "STU"})
        return orjson.dumps({"status": "complete"})
