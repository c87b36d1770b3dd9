"""The scenarios, each in every system's own names, and the check that they answer alike."""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.peer.contenders import DEBUG, Running
from bench.peer.load import Request, post_json

OURS_NESTED = """fragment Nested on Student { netid firstName lastName classYear schoolCode
  terms { id termId startDate endDate quarterlyTerm { id name } lmsTerm { id name }
          termDescription { id name } }
  plans { planId type state name department facultyNetid updatedAt }
  dplans { termCode dplanId dplanDescription dplanSourceId dplanSourceDescription updatedAt } }"""
PEER_NESTED = """fragment Nested on Student { netid firstName lastName classYear schoolCode
  studentTermsByNetidList { id termId startDate endDate sisTermByQuarterlyTermId { id name }
    lmsTermByLmsTermId { id name } termDescriptionByTermDescriptionId { id name } }
  academicPlansByStudentNetidList { id type state name department facultyNetid updatedAt }
  studentDplansByNetidList { termCode dplanId dplanCodeByDplanId { description } dplanSourceId
    dplanSourceByDplanSourceId { description } updatedAt } }"""
OURS_TERMS = """terms { id termId startDate endDate quarterlyTerm { id name } lmsTerm { id name }
  termDescription { id name } }"""
PEER_TERMS = """studentTermsByNetidList { id termId startDate endDate
  sisTermByQuarterlyTermId { id name } lmsTermByLmsTermId { id name }
  termDescriptionByTermDescriptionId { id name } }"""
OURS_PAGE = (  # the page size is a variable: --page-size, 100 (the cap) unless told
    "query($after: String, $first: Int) { students(first: $first, after: $after) { edges { node { "
    f"netid firstName lastName classYear schoolCode {OURS_TERMS} }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
PEER_ALL = (
    "{ allStudentsList(first: 5000, orderBy: NETID_ASC) { "
    f"netid firstName lastName classYear schoolCode {PEER_TERMS} }} }}"
)
# The request a frontend sends most: one student, their terms with the quarterly term and its
# offset from today's, and the ids of their plans and D-plans.
OURS_LIGHT = """query($netid: String!) { student(netid: $netid) { netid firstName lastName
  terms { id termId quarterlyTerm { id name currentTermOffset } }
  plans { planId } dplans { termCode dplanId } } }"""
PEER_LIGHT = """query($netid: String!) { studentByNetid(netid: $netid) { netid firstName lastName
  studentTermsByNetidList { id termId sisTermByQuarterlyTermId { id name currentTermOffset } }
  academicPlansByStudentNetidList { id } studentDplansByNetidList { termCode dplanId } } }"""
FETCHED = 5000
OFFSETS = ("currentTermOffset", "current_term_offset")
LISTS = {
    "terms": "terms",
    "studentTermsByNetidList": "terms",
    "plans": "plans",
    "academicPlansByStudentNetidList": "plans",
    "dplans": "dplans",
    "studentDplansByNetidList": "dplans",
}


@dataclass(frozen=True)
class Context:
    token: str
    keys_file: Path
    netids: list[str]
    page_size: int = 100  # the project's pages in the 5,000-student walk
    # Per running system, where its second page of 100 students starts (`find_cursors`).
    cursors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, url: str, args: argparse.Namespace) -> Context:
        plain = url.replace("+asyncpg", "")
        query = "SELECT netid FROM students WHERE NOT ferpa_protected ORDER BY netid LIMIT 2000"
        netids = subprocess.run(
            ["psql", plain, "-Atc", query], capture_output=True, text=True, check=True
        ).stdout.split()
        keys = Path(f"/tmp/bench-peer-netids-{args.database}.txt")
        keys.write_text("\n".join(netids) + "\n")
        venv = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "studentgraph"
        token = (
            subprocess.run(
                [str(venv), "token", "--sub", "bench-peer", "--lifetime", "86400"],
                capture_output=True,
                text=True,
                check=True,
                env={"DATABASE_URL": url, "PATH": ""},
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        return cls(token, keys, netids, args.page_size)


def _graphql(query: str, variables: dict[str, str] | None, token: str | None) -> Request:
    headers = [("Content-Type", "application/json")]
    if token:
        headers.append(("Authorization", f"Bearer {token}"))
    body = orjson.dumps({"query": query, "variables": variables or {}})
    return Request("POST", "/graphql", body, tuple(headers))


# Which request each system is sent: `unrecorded` is the project's, both PostGraphiles take the
# same document.
SENDS_AS = {
    "project": "project",
    "unrecorded": "project",
    "postgraphile4": "postgraphile",
    "postgraphile5": "postgraphile",
    "floor": "floor",
}


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    by_kind: Callable[[Context], dict[str, Request]]  # "project", "postgraphile", "floor"

    def requests(self, context: Context, systems: tuple[str, ...]) -> dict[str, Request]:
        """Each of `systems` that answers this scenario, with its request (by the system's
        name, else by its kind)."""
        given = self.by_kind(context)
        out = {s: given.get(s, given.get(SENDS_AS[s])) for s in systems}
        return {s: request for s, request in out.items() if request is not None}


def _one(query: str, peer: str, floor: str) -> Callable[[Context], dict[str, Request]]:
    return lambda c: {
        "project": _graphql(query, {"netid": "@KEY@"}, c.token),
        "postgraphile": _graphql(peer, {"netid": "@KEY@"}, None),
        "floor": Request("GET", floor),
    }


OURS_AFTER = (
    " query($after: String) "
    "{ students(first: 100, after: $after) { edges { node { ...Nested } } } }"
)
PEER_AFTER = (
    " query($after: Cursor) "
    "{ allStudents(first: 100, after: $after, orderBy: NETID_ASC) { nodes { ...Nested } } }"
)


def _after(system: str, cursor: str, c: Context) -> Request:
    """The second page of 100 students in `system`'s own way: a cursor (the floor: a netid)."""
    kind = SENDS_AS[system]
    if kind == "project":
        return _graphql(OURS_NESTED + OURS_AFTER, {"after": cursor}, c.token)
    if kind == "postgraphile":
        return _graphql(PEER_NESTED + PEER_AFTER, {"after": cursor}, None)
    return Request("GET", f"/first?n=100&after={cursor}")


def find_cursors(context: Context, running: dict[str, Running]) -> None:
    """Ask each running system where its second page of 100 students starts."""
    json = {"Content-Type": "application/json"}
    for system, server in running.items():
        kind = SENDS_AS[system]
        with httpx.Client(base_url=server.base, timeout=60) as client:
            if kind == "project":
                query = "{ students(first: 100) { pageInfo { endCursor } } }"
                headers = {**json, "Authorization": f"Bearer {context.token}"}
                answer = post_json(client, "/graphql", {"query": query}, headers)
                context.cursors[system] = answer["data"]["students"]["pageInfo"]["endCursor"]
            elif kind == "postgraphile":
                query = "{ allStudents(first: 100, orderBy: NETID_ASC) { pageInfo { endCursor } } }"
                answer = post_json(client, "/graphql", {"query": query}, json)
                context.cursors[system] = answer["data"]["allStudents"]["pageInfo"]["endCursor"]
            else:
                students = orjson.loads(client.get("/first?n=100&terms_only=1").content)
                context.cursors[system] = students["data"]["students"][-1]["netid"]


LOADED = (
    Scenario(
        "one",
        "one student nested (terms, plans, D-plans)",
        _one(
            OURS_NESTED + " query($netid: String!) { student(netid: $netid) { ...Nested } }",
            PEER_NESTED + " query($netid: String!) { studentByNetid(netid: $netid) { ...Nested } }",
            "/one/@KEY@",
        ),
    ),
    Scenario(
        "light",
        "one student, light (terms with quarterly term and offset, plan and D-plan ids)",
        _one(OURS_LIGHT, PEER_LIGHT, "/light/@KEY@"),
    ),
    Scenario(
        "hundred",
        "100 students nested",
        lambda c: {
            "project": _graphql(
                OURS_NESTED + " { students(first: 100) { edges { node { ...Nested } } } }",
                None,
                c.token,
            ),
            "postgraphile": _graphql(
                PEER_NESTED + " { allStudentsList(first: 100, orderBy: NETID_ASC) { ...Nested } }",
                None,
                None,
            ),
            "floor": Request("GET", "/first?n=100"),
        },
    ),
    Scenario(
        "hundred_after",
        "100 students nested, the page after the first (a cursor)",
        lambda c: {system: _after(system, cursor, c) for system, cursor in c.cursors.items()},
    ),
    Scenario(
        "rest",
        "GET /api/students/{netid}/terms",
        lambda c: {
            "project": Request(
                "GET", "/api/students/@KEY@/terms", b"", (("Authorization", f"Bearer {c.token}"),)
            ),
            "floor": Request("GET", "/api/students/@KEY@/terms"),
        },
    ),
)
WALK = "five_thousand"  # the key of the 5,000-student walk for --only
KEYS = (*(s.key for s in LOADED), WALK)


def fetchers(
    context: Context, systems: tuple[str, ...]
) -> dict[str, Callable[[httpx.Client], Any]]:
    """Fetch the first 5,000 students with their terms, as a client would from each system."""
    auth = {"Authorization": f"Bearer {context.token}", "Content-Type": "application/json"}

    def project(client: httpx.Client) -> Any:
        students: list[Any] = []
        after = None
        while len(students) < FETCHED:
            variables = {"after": after, "first": context.page_size}
            body = {"query": OURS_PAGE, "variables": variables}
            page = post_json(client, "/graphql", body, auth)["data"]["students"]
            students += [e["node"] for e in page["edges"]]
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
        return students[:FETCHED]

    def postgraphile(client: httpx.Client) -> Any:
        body = {"query": PEER_ALL}
        headers = {"Content-Type": "application/json"}
        return post_json(client, "/graphql", body, headers)["data"]["allStudentsList"]

    def floor(client: httpx.Client) -> Any:
        response = client.get(f"/first?n={FETCHED}&terms_only=1")
        return orjson.loads(response.content)["data"]["students"]

    kinds = {"project": project, "postgraphile": postgraphile, "floor": floor}
    return {s: kinds[SENDS_AS[s]] for s in systems}


# --- the check ---------------------------------------------------------------------------------


def shape(document: Any) -> dict[str, int]:
    """What an answer holds, in any system's names: students, terms, plans and D-plans counted,
    and the term offsets summed (so a wrong `currentTermOffset` shows too)."""
    counts: Counter[str] = Counter()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "lastName" in node:
                counts["students"] += 1
            if "term_id" in node:
                counts["terms"] += 1
            for key, value in node.items():
                if key in LISTS and isinstance(value, list):
                    counts[LISTS[key]] += len(value)
                if key in OFFSETS and isinstance(value, int):
                    counts["offsets"] += 1
                    counts["offset_sum"] += value
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return dict(counts)


def _statements(system: str, running: Running) -> int:
    kind = SENDS_AS[system]
    if kind == "project":
        text = httpx.get(running.base + "/metrics").text
        match = re.search(r"^studentgraph_sql_statements_total ([\d.e+]+)$", text, re.M)
        return int(float(match.group(1))) if match else 0
    if kind == "floor":
        return int(httpx.get(running.base + "/stats").json()["statements"])
    time.sleep(0.3)  # PostGraphile's debug log is written asynchronously
    pattern = rf"^\S+Z {re.escape(DEBUG[system])} "
    return len(re.findall(pattern, running.log.read_text(), re.M))


def check(
    context: Context, running: dict[str, Running], wanted: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Every system answers every wanted scenario alike; SQL statements per request."""
    systems = tuple(running)
    out: dict[str, dict[str, Any]] = {}
    for scenario in LOADED:
        if scenario.key not in wanted:
            continue
        answers, per_request = {}, {}
        for system, request in scenario.requests(context, systems).items():
            before = _statements(system, running[system])
            shapes = [shape(_send(running[system].base, request, n)) for n in context.netids[:20]]
            per_request[system] = (_statements(system, running[system]) - before) / 20
            answers[system] = shapes
        first = next(iter(answers.values()))
        for system, shapes in answers.items():
            assert shapes == first, (
                f"{scenario.key}: {system} answers {shapes[:3]}, not {first[:3]}"
            )
        out[scenario.key] = {"counts": first[0], "sql": per_request}
    if WALK in wanted:
        fetched = {}
        for system, fetch in fetchers(context, systems).items():
            with httpx.Client(base_url=running[system].base, timeout=120) as client:
                fetched[system] = shape(fetch(client))
        assert len(set(map(str, fetched.values()))) == 1, fetched
        out[WALK] = {"counts": next(iter(fetched.values()))}
    return out


def _send(base: str, request: Request, key: str) -> Any:
    body = request.body.replace(b"@KEY@", key.encode())
    response = httpx.request(
        request.method,
        base + request.path.replace("@KEY@", key),
        content=body or None,
        headers=dict(request.headers),
        timeout=30,
    )
    response.raise_for_status()
    answer = orjson.loads(response.content)
    assert not (isinstance(answer, dict) and answer.get("errors")), answer
    return answer
