"""The scenarios, each in every system's own names; the check that they answer alike; the table."""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.peer.load import Request, Result, post_json

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
OURS_PAGE = (
    "query($after: String) { students(first: 100, after: $after) { edges { node { "
    f"netid firstName lastName classYear schoolCode {OURS_TERMS} }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
PEER_ALL = (
    "{ allStudentsList(first: 5000, orderBy: NETID_ASC) { "
    f"netid firstName lastName classYear schoolCode {PEER_TERMS} }} }}"
)
FETCHED = 5000
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
        return cls(token, keys, netids)


def _graphql(query: str, variables: dict[str, str] | None, token: str | None) -> Request:
    headers = [("Content-Type", "application/json")]
    if token:
        headers.append(("Authorization", f"Bearer {token}"))
    body = orjson.dumps({"query": query, "variables": variables or {}})
    return Request("POST", "/graphql", body, tuple(headers))


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    requests: Callable[[Context], dict[str, Request]]


LOADED = (
    Scenario(
        "one",
        "one student nested (terms, plans, D-plans)",
        lambda c: {
            "project": _graphql(
                OURS_NESTED + " query($netid: String!) { student(netid: $netid) { ...Nested } }",
                {"netid": "@KEY@"},
                c.token,
            ),
            "postgraphile": _graphql(
                PEER_NESTED
                + " query($netid: String!) { studentByNetid(netid: $netid) { ...Nested } }",
                {"netid": "@KEY@"},
                None,
            ),
            "floor": Request("GET", "/one/@KEY@"),
        },
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


def fetchers(context: Context) -> dict[str, Callable[[httpx.Client], Any]]:
    """Fetch the first 5,000 students with their terms, as a client would from each system."""
    auth = {"Authorization": f"Bearer {context.token}", "Content-Type": "application/json"}

    def project(client: httpx.Client) -> Any:
        students: list[Any] = []
        after = None
        while len(students) < FETCHED:
            body = {"query": OURS_PAGE, "variables": {"after": after}}
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

    return {"project": project, "postgraphile": postgraphile, "floor": floor}


# --- the check ---------------------------------------------------------------------------------


def shape(document: Any) -> dict[str, int]:
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
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return dict(counts)


def _statements(system: str, base: str, log: str) -> int:
    if system == "project":
        text = httpx.get(base + "/metrics").text
        match = re.search(r"^studentgraph_sql_statements_total ([\d.e+]+)$", text, re.M)
        return int(float(match.group(1))) if match else 0
    if system == "floor":
        return int(httpx.get(base + "/stats").json()["statements"])
    time.sleep(0.3)  # PostGraphile's debug log is written asynchronously
    return len(re.findall(r"^\S+Z postgraphile:postgres ", Path(log).read_text(), re.M))


def check(context: Context, logs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every system answers every scenario with the same counts; SQL statements per request."""
    from bench.peer.__main__ import PORTS

    out: dict[str, dict[str, Any]] = {}
    for scenario in LOADED:
        answers, per_request = {}, {}
        for system, request in scenario.requests(context).items():
            base = f"http://127.0.0.1:{PORTS[system]}"
            before = _statements(system, base, logs[system])
            shapes = []
            for netid in context.netids[:20]:
                shapes.append(shape(_send(base, request, netid)))
            per_request[system] = (_statements(system, base, logs[system]) - before) / 20
            answers[system] = shapes
        first = next(iter(answers.values()))
        for system, shapes in answers.items():
            assert shapes == first, (
                f"{scenario.key}: {system} answers {shapes[:3]}, not {first[:3]}"
            )
        out[scenario.key] = {"counts": first[0], "sql": per_request}
    fetched = {}
    for system, fetch in fetchers(context).items():
        with httpx.Client(base_url=f"http://127.0.0.1:{PORTS[system]}", timeout=120) as client:
            fetched[system] = shape(fetch(client))
    assert len(set(map(str, fetched.values()))) == 1, fetched
    out["five_thousand"] = {"counts": next(iter(fetched.values()))}
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
    return orjson.loads(response.content)


# --- the table ---------------------------------------------------------------------------------


def report(
    table: dict[tuple[str, str], list[Result]],
    fetch_times: dict[str, list[float]],
    checked: dict[str, dict[str, Any]],
    machine: str,
    args: argparse.Namespace,
) -> str:
    lines = [
        f"bench-peer: {args.students} students (seed {args.seed}), "
        f"wrk {args.connections} connections, "
        f"{args.rounds} alternating rounds of {args.seconds:g} s; medians. {machine}",
        "",
        "| scenario | system | req/s | p50 ms | p99 ms | SQL/req | project/system |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in LOADED:
        results = {s: r for (k, s), r in table.items() if k == scenario.key}
        ours = statistics.median(r.rps for r in results["project"])
        for system, runs in results.items():
            rps = statistics.median(r.rps for r in runs)
            p50 = statistics.median(r.p50_ms for r in runs)
            p99 = statistics.median(r.p99_ms for r in runs)
            sql = checked[scenario.key]["sql"].get(system)
            sql_text = "-" if sql is None else f"{sql:g}"  # not counted for `unrecorded`
            ratio = "" if system == "project" else f"{ours / rps:.2f}x"
            errors = sum(r.errors for r in runs)
            flag = f" ({errors} non-2xx!)" if errors else ""
            lines.append(
                f"| {scenario.title} | {system} | {rps:,.0f}{flag} | {p50:.2f} | {p99:.2f} | "
                f"{sql_text} | {ratio} |"
            )
    ours_time = statistics.median(fetch_times["project"])
    for system, times in fetch_times.items():
        median = statistics.median(times)
        ratio = "" if system == "project" else f"{ours_time / median:.2f}x the time"
        lines.append(
            f"| {FETCHED:,} students with their terms, as a client fetches them | {system} | "
            f"{median:.3f} s | | | | {ratio} |"
        )
    lines.append("")
    lines.append(f"Counts checked equal across systems: {checked}")
    return "\n".join(lines)
