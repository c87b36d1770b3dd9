"""The floor over HTTP: the same rows by plain SQL (asyncpg, no ORM, no GraphQL, no transaction),
assembled into the same JSON in Python and encoded with orjson, served by the same ASGI server
(uvicorn) as the project. What any server answering these questions must at least do.

    DATABASE_URL=postgresql://... uvicorn bench.peer.floor_app:app --port 8012
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STUDENTS = """SELECT netid, first_name, last_name, class_year, school_code FROM students
               WHERE netid = ANY($1::text[]) ORDER BY netid"""
FIRST_STUDENTS = """SELECT netid, first_name, last_name, class_year, school_code FROM students
                     ORDER BY netid LIMIT $1"""
STUDENTS_AFTER = """SELECT netid, first_name, last_name, class_year, school_code FROM students
                     WHERE netid > $2 ORDER BY netid LIMIT $1"""
TERMS = """SELECT t.netid, t.id, t.term_id, t.start_date, t.end_date, t.quarterly_term_id, q.name,
                  t.lms_term_id, l.name, t.term_description_id, d.name
             FROM student_terms t JOIN sis_terms q ON q.id = t.quarterly_term_id
             LEFT JOIN lms_terms l ON l.id = t.lms_term_id
             LEFT JOIN term_descriptions d ON d.id = t.term_description_id
            WHERE t.netid = ANY($1::text[]) ORDER BY t.netid, t.quarterly_term_id, t.term_id"""
PLANS = """SELECT student_netid, id, type, state, name, department, faculty_netid, updated_at
             FROM academic_plans WHERE student_netid = ANY($1::text[]) ORDER BY id"""
DPLANS = """SELECT x.netid, x.term_code, x.dplan_id, c.description, x.dplan_source_id,
                   o.description, x.updated_at
              FROM student_dplans x JOIN dplan_codes c ON c.id = x.dplan_id
              JOIN dplan_sources o ON o.id = x.dplan_source_id
             WHERE x.netid = ANY($1::text[]) ORDER BY x.netid, x.term_code"""
REST_TERMS = """SELECT t.netid, t.term_id, t.school_id, t.quarterly_term_id, t.start_date,
                       t.end_date, t.lms_term_id, l.name, l.is_course_send_enabled,
                       l.is_enroll_send_enabled, q.name, q.start_date, q.end_date,
                       t.term_description_id, d.name, t.id
                  FROM student_terms t JOIN sis_terms q ON q.id = t.quarterly_term_id
                  LEFT JOIN lms_terms l ON l.id = t.lms_term_id
                  LEFT JOIN term_descriptions d ON d.id = t.term_description_id
                 WHERE t.netid = $1 ORDER BY t.quarterly_term_id, t.term_id"""
LIGHT_TERMS = """SELECT t.id, t.term_id, t.quarterly_term_id, q.name
                   FROM student_terms t JOIN sis_terms q ON q.id = t.quarterly_term_id
                  WHERE t.netid = $1 ORDER BY t.quarterly_term_id, t.term_id"""
LIGHT_PLANS = "SELECT id FROM academic_plans WHERE student_netid = $1 ORDER BY id"
LIGHT_DPLANS = "SELECT term_code, dplan_id FROM student_dplans WHERE netid = $1 ORDER BY term_code"
SEASONS = {"01": 0, "03": 1, "06": 2, "09": 3}

pool: asyncpg.Pool | None = None
statements = 0


def utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ordinal(term_id: str) -> int:
    return int(term_id[:4]) * 4 + SEASONS[term_id[4:]]


async def fetch(connection: Any, sql: str, *args: Any) -> list[Any]:
    global statements
    statements += 1
    return list(await connection.fetch(sql, *args))


def _term(r: Any) -> dict[str, Any]:
    return {
        "id": r[1],
        "termId": r[2],
        "startDate": utc(r[3]),
        "endDate": utc(r[4]),
        "quarterlyTerm": {"id": r[5], "name": r[6]},
        "lmsTerm": {"id": r[7], "name": r[8]} if r[7] is not None else None,
        "termDescription": {"id": r[9], "name": r[10]} if r[9] is not None else None,
    }


async def nested(connection: Any, rows: list[Any], *, with_all: bool = True) -> list[Any]:
    """Students with their terms (and, `with_all`, plans and D-plans), as the project nests them."""
    netids = [r[0] for r in rows]
    children: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in await fetch(connection, TERMS, netids):
        children[r[0]]["terms"].append(_term(r))
    if with_all:
        for r in await fetch(connection, PLANS, netids):
            names = ("type", "state", "name", "department", "facultyNetid")
            plan = dict(zip(names, r[2:7], strict=True))
            children[r[0]]["plans"].append({"planId": str(r[1]), **plan, "updatedAt": utc(r[7])})
        for r in await fetch(connection, DPLANS, netids):
            children[r[0]]["dplans"].append(
                {
                    "termCode": r[1],
                    "dplanId": r[2],
                    "dplanDescription": r[3],
                    "dplanSourceId": r[4],
                    "dplanSourceDescription": r[5],
                    "updatedAt": utc(r[6]),
                }
            )
    out = []
    for r in rows:
        student = {
            "netid": r[0],
            "firstName": r[1],
            "lastName": r[2],
            "classYear": r[3],
            "schoolCode": r[4],
            "terms": children[r[0]]["terms"],
        }
        if with_all:
            student.update(plans=children[r[0]]["plans"], dplans=children[r[0]]["dplans"])
        out.append(student)
    return out


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def one(request: Request) -> Response:
    assert pool is not None
    async with pool.acquire() as connection:
        rows = await fetch(connection, STUDENTS, [request.path_params["netid"]])
        students = await nested(connection, rows) if rows else []
    return _json({"data": {"student": students[0] if students else None}})


async def light(request: Request) -> Response:
    """One student, their terms with the quarterly term and its offset, plan and D-plan ids:
    four statements."""
    assert pool is not None
    netid = request.path_params["netid"]
    current = request.app.state.current
    async with pool.acquire() as connection:
        rows = await fetch(connection, STUDENTS, [netid])
        if not rows:
            return _json({"data": {"student": None}})
        terms = await fetch(connection, LIGHT_TERMS, netid)
        plans = await fetch(connection, LIGHT_PLANS, netid)
        dplans = await fetch(connection, LIGHT_DPLANS, netid)
    student = {
        "netid": rows[0][0],
        "firstName": rows[0][1],
        "lastName": rows[0][2],
        "terms": [
            {
                "id": r[0],
                "termId": r[1],
                "quarterlyTerm": {
                    "id": r[2],
                    "name": r[3],
                    "currentTermOffset": ordinal(r[2]) - ordinal(current) if current else None,
                },
            }
            for r in terms
        ],
        "plans": [{"planId": str(r[0])} for r in plans],
        "dplans": [{"termCode": r[0], "dplanId": r[1]} for r in dplans],
    }
    return _json({"data": {"student": student}})


async def first(request: Request) -> Response:
    """The first N students (`?n=100`), or the N after a netid (`&after=`), nested;
    `?terms_only=1` for terms alone."""
    assert pool is not None
    terms_only = request.query_params.get("terms_only") == "1"
    n, after = int(request.query_params.get("n", "100")), request.query_params.get("after")
    async with pool.acquire() as connection:
        if after is None:
            rows = await fetch(connection, FIRST_STUDENTS, n)
        else:
            rows = await fetch(connection, STUDENTS_AFTER, n, after)
        students = await nested(connection, rows, with_all=not terms_only)
    return _json({"data": {"students": students}})


async def rest_terms(request: Request) -> Response:
    assert pool is not None
    async with pool.acquire() as connection:
        rows = await fetch(connection, REST_TERMS, request.path_params["netid"])
    current = request.app.state.current
    return _json([_rest_term(r, current) for r in rows])


def _rest_term(r: Any, current: str | None) -> dict[str, Any]:
    return {
        "netid": r[0],
        "term_id": r[1],
        "school_id": r[2],
        "is_active": r[3] == current,
        "start_date": utc(r[4]),
        "end_date": utc(r[5]),
        "lms_term": {
            "id": r[6],
            "name": r[7],
            "is_course_send_enabled": r[8],
            "is_enroll_send_enabled": r[9],
        }
        if r[6] is not None
        else None,
        "quarterly_term": {
            "id": r[3],
            "name": r[10],
            "start_date": utc(r[11]),
            "end_date": utc(r[12]),
            "current_term_offset": ordinal(r[3]) - ordinal(current) if current else None,
        },
        "term_description": {"id": r[13], "name": r[14]} if r[13] is not None else None,
        "id": r[15],
    }


async def stats(_request: Request) -> Response:
    return _json({"statements": statements})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["FLOOR_DATABASE_URL"], min_size=2, max_size=10)
    async with pool.acquire() as connection:
        app.state.current = await connection.fetchval(
            "SELECT id FROM sis_terms WHERE start_date <= now() AND end_date > now()"
        )
    yield
    await pool.close()


app = Starlette(
    routes=[
        Route("/one/{netid}", one),
        Route("/light/{netid}", light),
        Route("/first", first),
        Route("/api/students/{netid}/terms", rest_terms),
        Route("/stats", stats),
    ],
    lifespan=lifespan,
)
