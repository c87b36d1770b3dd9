"""The scenarios (DESIGN section 8). Each pairs an app operation with its floor operation; both
return JSON bytes-or-document so a checked run can compare what they hold before any timing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bench.floor import Floor

Call = Callable[[], Awaitable[Any]]

NESTED = """
fragment Nested on Student {
  netid firstName lastName classYear schoolCode
  terms { id termId startDate endDate quarterlyTerm { id name } lmsTerm { id name }
          termDescription { id name } }
  plans { planId type state name department facultyNetid updatedAt }
  dplans { termCode dplanId dplanDescription dplanSourceId dplanSourceDescription updatedAt }
}
"""
ONE_STUDENT = NESTED + "query($netid: String!) { student(netid: $netid) { ...Nested } }"
STUDENTS_100 = NESTED + "{ students(first: 100) { edges { node { ...Nested } } } }"
STUDENT_PAGE = """
query($after: String) {
  students(first: 100, after: $after) {
    edges { node { netid firstName lastName classYear schoolCode } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
SET_DPLANS = """
mutation($netid: String!, $dplans: [DplanInput!]!) {
  setDplans(netid: $netid, dplans: $dplans) { taskId status }
}
"""
TASK = "query($id: String!) { task(id: $id) { status message } }"
MUTATION_FIELDS = '{ __type(name: "Mutation") { fields { name } } }'
PAGES = 50


@dataclass
class Scenario:
    key: str
    title: str
    app: Call | None = None
    floor: Call | None = None
    checked: Call | None = None  # the app call, decoded and checked (defaults to `app`)
    rows: str = ""
    skip: str | None = None
    notes: list[str] = field(default_factory=list)


def shape(doc: Any) -> dict[str, int]:
    """What a JSON answer holds: students, and the terms/plans/D-plans under them (or plan rows
    of the REST collection), however it is wrapped (edges/node, data, a bare list)."""
    counts: Counter[str] = Counter()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "lastName" in node:
                counts["students"] += 1
            if "student_netid" in node:
                counts["plan rows"] += 1
            for key, value in node.items():
                if key in ("terms", "plans", "dplans") and isinstance(value, list):
                    counts[key] += len(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return dict(counts)


class GraphQL:
    """POSTs to /graphql; `checked` calls decode and refuse an answer with errors."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        body = orjson.dumps({"query": query, "variables": variables})
        headers = {**self.headers, "Content-Type": "application/json"}
        response = await self.client.post("/graphql", content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"/graphql answered {response.status_code}: {response.text[:300]}")
        return response

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = orjson.loads((await self.post(query, variables)).content)
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


def one_student(gql: GraphQL, floor: Floor, netid: str) -> Scenario:
    variables = {"netid": netid}

    async def app() -> Any:
        return await gql.post(ONE_STUDENT, variables)

    async def checked() -> Any:
        return await gql.data(ONE_STUDENT, variables)

    return Scenario(
        "a",
        "one student, nested (GraphQL)",
        app,
        lambda: floor.one_student(netid),
        checked,
        rows=f"student {netid} + terms/plans/dplans",
    )


def hundred_students(gql: GraphQL, floor: Floor) -> Scenario:
    async def app() -> Any:
        return await gql.post(STUDENTS_100)

    async def checked() -> Any:
        return await gql.data(STUDENTS_100)

    return Scenario(
        "b",
        "100 students, nested (GraphQL)",
        app,
        floor.first_100,
        checked,
        rows="100 students nested",
    )


def student_pages(gql: GraphQL, floor: Floor) -> Scenario:
    """One request = one page of 100; the loop walks 50 pages (5,000 students) and starts over."""
    cursor: dict[str, Any] = {"after": None, "page": 0}

    async def app() -> Any:
        data = await gql.data(STUDENT_PAGE, {"after": cursor["after"]})
        info = data["students"]["pageInfo"]
        cursor["page"] += 1
        if cursor["page"] >= PAGES or not info["hasNextPage"]:
            cursor.update(after=None, page=0)
        else:
            cursor["after"] = info["endCursor"]
        return data

    return Scenario(
        "c",
        f"students(first:100), {PAGES} pages (GraphQL)",
        app,
        lambda: floor.next_page(PAGES),
        rows="100 students per page",
    )


def rest_plan_pages(client: httpx.AsyncClient, headers: dict[str, str], floor: Floor) -> Scenario:
    """GET /api/academic/plans?pagesize=1000, then page=2.. with the first answer's X-Request-ID
    as continuation_key (the portal's found set), starting over after the last page."""
    state: dict[str, Any] = {"key": None, "page": 1}

    async def app() -> Any:
        params: dict[str, Any] = {"pagesize": 1000}
        if state["key"]:
            params.update(page=state["page"], continuation_key=state["key"])
        response = await client.get("/api/academic/plans", params=params, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"REST answered {response.status_code}: {response.text[:300]}")
        rows = orjson.loads(response.content)
        if len(rows) < 1000:
            state.update(key=None, page=1)
        else:
            state.update(key=state["key"] or response.headers["x-request-id"])
            state["page"] += 1
        return rows

    return Scenario(
        "c-rest",
        "plans collection, pagesize 1000 (REST)",
        app,
        floor.next_plan_page,
        rows="1,000 plans per page",
    )


async def task_loop(gql: GraphQL, floor: Floor, netid: str, term_code: str) -> Scenario:
    """setDplans -> poll task(id) until complete. One request = the whole loop."""
    title = "setDplans -> task -> complete (GraphQL)"
    fields = await gql.data(MUTATION_FIELDS)
    names = {f["name"] for f in ((fields.get("__type") or {}).get("fields") or [])}
    if "setDplans" not in names:
        return Scenario("d", title, skip="the setDplans mutation does not exist yet")
    flip = {"n": 0}

    async def app() -> Any:
        flip["n"] += 1
        dplan = {"termCode": term_code, "dplanId": "RL"[flip["n"] % 2], "dplanSourceId": "STU"}
        data = await gql.data(SET_DPLANS, {"netid": netid, "dplans": [dplan]})
        task_id = data["setDplans"]["taskId"]
        for _ in range(20_000):
            task = (await gql.data(TASK, {"id": task_id}))["task"]
            status = str(task["status"]).lower()
            if status == "complete":
                return task
            if status == "error":
                raise RuntimeError(f"task {task_id} failed: {task['message']}")
            await asyncio.sleep(0.002)  # let the in-process worker run
        raise RuntimeError(f"task {task_id} did not complete")

    async def floor_op() -> Any:
        flip["n"] += 1
        return await floor.upsert_dplan(netid, term_code, "RL"[flip["n"] % 2])

    scenario = Scenario("d", title, app, floor_op, rows=f"1 D-plan of {netid}")
    scenario.notes.append("SQL/req counts the mutation, every poll and the worker's apply")
    return scenario
