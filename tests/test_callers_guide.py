"""The callers' guide (docs/api/callers-guide.md), run as written: every example of the page (a
fenced ```sh, ```python or ```js block right after an `<!-- example: NAME -->` comment) against
a real server (`studentgraph serve`, uvicorn, in a subprocess, with the demo data and an
in-process worker), each checked for what it prints; and every GraphQL document of its
REST-to-GraphQL table, sent to that server and compared with what the REST route answers.

Shell examples run through `sh -e` (skipped, saying why, without curl), Python ones with this
interpreter, JavaScript ones with `node` after `npm ci` of tests/callers_guide/ (the pinned
clients, installed on first use into its gitignored node_modules; skipped, saying why, without
Node.js and npm). `$API` and `$TOKEN` are given to each example in its environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import create_engine
from tests.npm import installed
from tests.served import Served, running

ROOT = Path(__file__).resolve().parents[1]
NPM_PROJECT = Path(__file__).resolve().parent / "callers_guide"
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(\w+)\n(.*?)\n```\n", re.DOTALL)
TABLE_HEADING = "## From the REST compat routes to GraphQL"
GUIDE = ROOT / "docs" / "api" / "callers-guide.md"
# Other pages whose examples are run the same way: the GraphQL guide's and the README's.
EXAMPLE_PAGES = (GUIDE, ROOT / "docs" / "api" / "graphql.md", ROOT / "README.md")

# What each example must print (every substring), and what its last line must end with (a
# subscription or a polling loop ends once the task is COMPLETE). The token examples are checked
# by using the token they export.
PRINTS: dict[str, tuple[str, ...]] = {
    "curl-query": ('"netid":"f000abc"', '"termId":"201801-U"'),
    "curl-mutation": ('"setDplans":{"taskId":"', '"status":"ACCEPTED"'),
    "curl-persisted": ('"netid":"f000abc"', "etag: ", "cache-control: private"),
    "python-httpx-query": ("'netid': 'f0027k4'", "'planId': '20109'"),
    "python-httpx-task": ("'status': 'COMPLETE'", "'path': '/api/students/f0027k4'"),
    "python-gql": ("'netid': 'f0027k4'", "'dplanId': 'R'"),
    "js-fetch": ('"netid":"f000abc"', '"termId":"201901-U"'),
    "js-graphql-ws": (),
    "js-apollo": ('"netid":"f0027k4"', '"planId":"20109"'),
    "graphql-paging": (
        '"totalCount":8',
        '"netid":"f0002sj"',
        '"endCursor":"c3R1ZGVudDpmMDAwYWJj"',
        '"netid":"f00het7"',
        '"endCursor":"c3R1ZGVudDpmMDBoZXQ3"',
    ),
    "graphql-paging-python": (
        "['f0002sj', 'f000abc', 'f00fjmp']\n"
        "['f00het7', 'f00io1q', 'f00qok4']\n"
        "['f00zfhq', 'f00zotq']",
    ),
    "readme-graphql": ('"name":"Avery J Abbott"', '"termId":"201801-U"', '"termId":"201901-U"'),
    "readme-rest": ('"netid":"f000abc"', '"last_name":"Abbott"', '"class_year":2021'),
    "graphql-filter": ('"totalCount":2', '"netid":"f000abc"', '"netid":"f00zotq"'),
    "graphql-errors": (
        '{"data":{"student":null}',
        '"code":"BAD_USER_INPUT","problems":[{"loc":"first"',
        '"code":"UNAUTHENTICATED"',
        "HTTP 401",
    ),
}
ENDS_WITH = {"python-httpx-task": "}", "python-gql": "COMPLETE", "js-graphql-ws": "COMPLETE"}
TOKEN_EXAMPLES = ("token-dev", "token-service-account")

# Each route of the table: the REST request its GraphQL is compared with, where the records are in
# the GraphQL answer, what REST's `id` is called there, and whether the table's document asks for
# every field the route answers.
TABLE: dict[str, tuple[str, Any, str, bool]] = {
    "GET /api/students/{netid}": ("/api/students/f0027k4", lambda d: d["student"], "id", True),
    "GET /api/students/{netid}/terms": (
        "/api/students/f000abc/terms",
        lambda d: d["student"]["terms"],
        "id",
        True,
    ),
    "GET /api/students/{netid}/plans": (
        "/api/students/f0027k4/plans",
        lambda d: d["student"]["plans"],
        "planId",
        True,
    ),
    "GET /api/academic/plans": (
        "/api/academic/plans?student_netid=f0027k4&department=GOVT",
        lambda d: [edge["node"] for edge in d["plans"]["edges"]],
        "planId",
        False,
    ),
    "GET /api/academic/plans/{id}": (
        "/api/academic/plans/20109",
        lambda d: d["plan"],
        "planId",
        False,
    ),
    "GET /api/tasks/{id}": ("/api/tasks/{task}", lambda d: d["task"], "taskId", True),
}
JSON_VALUES = {"payload", "worker_data"}  # JSON scalars in GraphQL: their keys are not renamed


@dataclass(frozen=True)
class Example:
    name: str
    language: str
    code: str


def _guide() -> str:
    return GUIDE.read_text()


def _examples(pages: tuple[Path, ...] = EXAMPLE_PAGES) -> dict[str, Example]:
    found = [Example(*match) for page in pages for match in EXAMPLE.findall(page.read_text())]
    assert len({example.name for example in found}) == len(found), "an example name twice"
    return {example.name: example for example in found}


class Server(Served):
    """`python -m app serve` on a free port with the demo data, its worker in process."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url, demo=True)

    def example_env(self, token: str | None = None) -> dict[str, str]:
        """The example's environment: $API, $TOKEN, and `studentgraph`/`python3` on the PATH."""
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {
            **self.env,
            "API": self.url,
            "TOKEN": self.token if token is None else token,
            "PATH": path,
        }

    def graphql(self, document: str, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        response = httpx.post(f"{self.url}/graphql", json={"query": document}, headers=headers)
        body: dict[str, Any] = response.json()
        assert body.get("errors") is None, (document, body)
        data: dict[str, Any] = body["data"]
        return data

    def rest(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200, (path, response.text)
        return response.json()


@pytest.fixture(scope="module")
def server(module_database_url: str) -> Iterator[Server]:
    """One server for the module's tests on each database (a start is `demo` and `serve`, the
    most of each test's time when each had its own): the examples write only through
    idempotent task submissions and count what they store relative to what they found."""
    with running(Server(module_database_url)) as served:
        yield served


def _run(example: Example, env: dict[str, str], *, node: str = "node") -> str:
    command = {
        "sh": ["sh", "-ec", example.code],
        "python": [sys.executable, "-c", example.code],
        "js": [node, "--input-type=module", "-e", example.code],
    }[example.language]
    cwd = NPM_PROJECT if example.language == "js" else ROOT
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{example.name} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout


def _check(example: Example, output: str) -> None:
    seen = output.lower() if example.name == "curl-persisted" else output  # header names' case
    missing = [wanted for wanted in PRINTS[example.name] if wanted not in seen]
    assert missing == [], f"{example.name} printed:\n{output}\nwithout {missing}"
    if example.name in ENDS_WITH:
        assert output.rstrip().endswith(ENDS_WITH[example.name]), f"{example.name}:\n{output}"


def _exported_token(example: Example, server: Server) -> str:
    """Run a token example; the token it exported must open GraphQL."""
    shown = Example(example.name, "sh", example.code + '\nprintf "\\n%s" "$TOKEN"')
    token = _run(shown, server.example_env(token="")).rsplit("\n", 1)[-1]
    student = server.graphql('{ student(netid: "f000abc") { netid } }', token=token)["student"]
    assert student == {"netid": "f000abc"}, example.name
    return token


def _installed_node() -> str | None:
    """The path of `node` once the guide's packages are installed, or None (then skipped)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    installed(NPM_PROJECT, npm, "@apollo/client")
    return node


def _of(language: str) -> list[Example]:
    return [e for e in _examples().values() if e.language == language and e.name in PRINTS]


def test_every_example_of_the_guide_is_run_and_checked():
    examples = _examples()
    assert set(examples) == set(PRINTS) | set(TOKEN_EXAMPLES)
    assert {e.language for e in examples.values()} == {"sh", "python", "js"}
    # every fenced block of the guide is an example, bar the one line that sets $API
    fences = re.findall(r"^```(\w+)$", _guide(), flags=re.MULTILINE)
    assert len(fences) == len(_examples((GUIDE,))) + 1


def test_the_shell_examples(server):
    if shutil.which("curl") is None:
        pytest.skip("the shell examples call curl, which this machine lacks")
    examples = _examples()
    for name in TOKEN_EXAMPLES:
        _exported_token(examples[name], server)
    for example in _of("sh"):
        _check(example, _run(example, server.example_env()))


def test_the_python_examples(server):
    for example in _of("python"):
        _check(example, _run(example, server.example_env()))


async def test_the_javascript_examples(server):
    node = _installed_node()
    if node is None:
        pytest.skip("the JavaScript examples need Node.js and npm, which this machine lacks")
    for example in _of("js"):
        before = await _persisted_documents(server.settings)
        _check(example, _run(example, server.example_env(), node=node))
        if example.name == "js-apollo":  # its link sent the hash, then the text: one stored
            assert await _persisted_documents(server.settings) == before + 1


async def _persisted_documents(settings: Settings) -> int:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(text("SELECT count(*) FROM persisted_queries"))
    finally:
        await engine.dispose()
    return int(count or 0)


def _table() -> list[tuple[str, str | None]]:
    """(route, the GraphQL document of its row, or None where the row says there is none)."""
    table = _guide().split(f"\n{TABLE_HEADING}\n", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    found = []
    for row in rows:
        route_cell, graphql_cell = row.split(" | ")[:2]
        route = route_cell.split("`")[1]
        none = graphql_cell.startswith("no GraphQL equivalent")
        found.append((route, None if none else graphql_cell.split("`")[1]))
    return found


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _as_graphql(record: Any, id_name: str = "id") -> Any:
    """A REST record as GraphQL names and answers it: camelCase, "Y"/"N" as booleans, statuses
    as enum values, REST's `id` under its GraphQL name."""
    if isinstance(record, list):
        return [_as_graphql(item, id_name) for item in record]
    if not isinstance(record, dict):
        return record
    renamed: dict[str, Any] = {}
    for key, value in record.items():
        if key in ("updated", "dropped"):
            value = value == "Y"
        elif key == "status":
            value = value.upper()
        elif key not in JSON_VALUES:
            value = _as_graphql(value)
        renamed[id_name if key == "id" else _camel(key)] = value
    return renamed


def _same(graphql: Any, rest: Any, *, every_field: bool, where: str) -> None:
    """Every field GraphQL answered equals REST's; with `every_field`, none of REST's is missing."""
    if isinstance(rest, list):
        assert isinstance(graphql, list) and len(graphql) == len(rest), where
        for got, expected in zip(graphql, rest, strict=True):
            _same(got, expected, every_field=every_field, where=where)
    elif isinstance(rest, dict):
        if every_field:
            assert set(rest) <= set(graphql), (where, set(rest) - set(graphql))
        for key in set(rest) & set(graphql):
            _same(graphql[key], rest[key], every_field=every_field, where=f"{where}.{key}")
    else:
        assert graphql == rest, (where, graphql, rest)


def _wait_until_done(server: Server, task_id: str) -> None:
    deadline = time.monotonic() + 30
    query = f'{{ task(id: "{task_id}") {{ status }} }}'
    while server.graphql(query)["task"]["status"] in ("ACCEPTED", "RUNNING"):
        assert time.monotonic() < deadline, f"task {task_id} not done"
        time.sleep(0.2)


def test_the_rest_to_graphql_table(server):
    """Each row's GraphQL runs, and answers what its REST route answers (the `"..."` in a row
    stands for the idempotency key, then for the task the PATCH row made)."""
    rows = _table()
    assert [route for route, document in rows if document is None] == ["POST /api/jwt"]
    assert {route for route, _ in rows} == set(TABLE) | {
        "PATCH /api/students/{netid}",
        "POST /api/jwt",
    }
    task_id = "callers-guide-table"
    for route, document in rows:
        if document is None:
            continue
        operation = "mutation" if document.startswith("setDplans") else "query"
        filled = document.replace('"..."', json.dumps(task_id))
        data = server.graphql(f"{operation} {{ {filled} }}")
        if operation == "mutation":
            assert data["setDplans"]["status"] == "ACCEPTED"
            task_id = data["setDplans"]["taskId"]
            _wait_until_done(server, task_id)
            continue
        path, records_of, id_name, every_field = TABLE[route]
        rest = _as_graphql(server.rest(path.replace("{task}", task_id)), id_name)
        assert rest, route  # something to compare
        _same(records_of(data), rest, every_field=every_field, where=route)
