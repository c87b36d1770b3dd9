"""Everything a full run writes to stderr: REST and GraphQL reads, setDplans and a PATCH applied
by the worker (each after one failed attempt), a refused token, a 404, an API-key login and a
500. Every line is JSON without ANSI escapes; none carries a token, an API key, an email or a
D-plan value; every request has exactly one access line and every task one `task` line; each
failure is logged once, with its request or task id."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE
from app.auth.tokens import mint
from app.db import create_engine, create_sessionmaker, transaction
from app.main import create_app
from app.models import DplanCode, DplanSource, Task
from app.observability import configure_logging
from app.services import accounts
from app.worker import Worker
from tests.factories import make_student
from tests.worker.helpers import accept

NETID = "f00log1"
DPLAN, SOURCE = "QZXD", "QZXS"  # D-plan values that occur nowhere else
EMAIL = "hidden.person@example.edu"
SET_DPLANS = """mutation Set($netid: String!, $dplans: [DplanInput!]!) {
  setDplans(netid: $netid, dplans: $dplans) { taskId } }"""
READ = 'query Read { student(netid: "f00log1") { netid dplans { dplanId } } }'


class Run:
    """The requests of the run, each remembered with its request id."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.request_ids: list[str] = []
        self.task_ids: list[str] = []

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, path, **kwargs)
        self.request_ids.append(response.headers["x-request-id"])
        return response

    async def until_done(self, task_id: str, headers: dict[str, str]) -> None:
        self.task_ids.append(task_id)
        for _ in range(400):
            task = (await self.send("GET", f"/api/tasks/{task_id}", headers=headers)).json()
            if task["status"] in ("complete", "error"):
                assert task["status"] == "complete", task
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"task {task_id} did not finish")


async def _world(sessions: Any, session: Any) -> str:
    """A student, D-plan values of the test's own, and a service account's API key."""
    await make_student(session, netid=NETID)
    session.add_all([DplanCode(id=DPLAN, description="x"), DplanSource(id=SOURCE, description="y")])
    await session.commit()
    async with transaction(sessions) as tx:
        await accounts.create_account(tx, "log-tool", [STUDENTS_READ])
        return (await accounts.create_key(tx, "log-tool")).key


async def _full_run(run: Run, headers: dict[str, str], key: str) -> list[str]:
    """Returns the secrets the run saw (tokens minted for it)."""
    assert (
        await run.send("GET", f"/api/students/{NETID}/terms", headers=headers)
    ).status_code == 200
    read = await run.send("POST", "/graphql", json={"query": READ}, headers=headers)
    assert read.json().get("errors") is None
    dplans = [{"termCode": "202301", "dplanId": DPLAN, "dplanSourceId": SOURCE}]
    variables = {"netid": NETID, "dplans": dplans}
    created = await run.send(
        "POST", "/graphql", json={"query": SET_DPLANS, "variables": variables}, headers=headers
    )
    await run.until_done(created.json()["data"]["setDplans"]["taskId"], headers)
    body = {"dplans": [{"term_code": "202303", "dplan_id": DPLAN, "dplan_source_id": SOURCE}]}
    patched = await run.send("PATCH", f"/api/students/{NETID}", json=body, headers=headers)
    assert patched.status_code == 202, patched.text
    await run.until_done(patched.headers["location"].rsplit("/", 1)[1], headers)
    bad = {"Authorization": "Bearer " + headers["Authorization"].split()[1][:-4] + "AAAA"}
    assert (await run.send("GET", f"/api/students/{NETID}/terms", headers=bad)).status_code == 401
    assert (await run.send("GET", "/api/students/zz0000/terms", headers=headers)).status_code == 404
    login = await run.send(
        "POST", "/api/jwt", params={"scope": STUDENTS_READ}, headers={"Authorization": key}
    )
    assert login.status_code == 200
    refused = await run.send("POST", "/api/jwt", headers={"Authorization": key[:-3] + "zzz"})
    assert refused.status_code == 401
    failed = await run.send("GET", f"/api/students/{NETID}", headers=headers)
    assert failed.status_code == 500
    return [login.json()["jwt"], bad["Authorization"].split()[1]]


@pytest.fixture
def logged(settings):
    """INFO logs, the in-process worker on either database, and a first attempt that fails."""
    return settings.model_copy(
        update={
            "log_level": "INFO",
            "worker_in_process": True,
            "worker_test_failures": 1,
            "worker_backoff_base_seconds": 0.0,
        }
    )


async def test_a_full_runs_logs(logged, clock, session, sessions, capfd, monkeypatch):
    key = await _world(sessions, session)
    scopes = [STUDENTS_READ, STUDENTS_WRITE, PEOPLE_PRIVATE, TASKS_WRITE]
    token = mint(logged, sub="f003ghc", scopes=scopes, name="Hidden Person", email=EMAIL)
    headers = {"Authorization": f"Bearer {token}"}

    async def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("an unexpected failure")

    monkeypatch.setattr("app.repositories.json_reads.JsonReads.one", boom)
    capfd.readouterr()  # only the run's own output
    application = create_app(logged, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            run = Run(client)
            minted = await _full_run(run, headers, key)
    output = capfd.readouterr().err
    _check(output, run, secrets=[token, key, *minted, EMAIL, DPLAN, SOURCE])


def _check(output: str, run: Run, secrets: list[str]) -> None:
    assert "\x1b" not in output and "\\u001b" not in output  # no ANSI escapes
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines, "the run logged nothing"
    for secret in secrets:
        assert secret not in output, secret
    access = Counter(e["request_id"] for e in lines if e["msg"] == "request")
    assert access == Counter(run.request_ids)  # one access line per request, no other
    assert len(set(run.request_ids)) == len(run.request_ids)
    ends = Counter(e["task_id"] for e in lines if e["msg"] == "task")
    assert ends == Counter(run.task_ids)
    failures = [e for e in lines if e["level"] in ("warning", "error")]
    assert failures, "the run's failures were not logged"
    for failure in failures:
        assert failure.get("request_id") in access or failure.get("task_id") in ends, failure
    # Each failure once: the 500, the refused token and key are one line each per request;
    # each task's failed first attempt one line.
    assert Counter(f.get("request_id") or f["task_id"] for f in failures).most_common(1)[0][1] == 1
    assert sorted(f["task_id"] for f in failures if "task_id" in f) == sorted(run.task_ids)
    unhandled = [f for f in failures if f["msg"] == "unhandled error"]
    assert len(unhandled) == 1 and unhandled[0]["request_id"] == run.request_ids[-1]
    refusals = [e for e in lines if e["msg"] == "refused a token"]  # the token, the key
    assert [e["request_id"] for e in refusals] == [run.request_ids[-5], run.request_ids[-2]]


async def test_a_rejected_tasks_line_keeps_its_reason_to_the_task(
    settings, session, sessions, capfd
):
    """A task that can no longer succeed ends in `error` with a message quoting the request (for
    its requester); its log line says only that it was rejected."""
    await _world(sessions, session)
    body = {"dplans": [{"term_code": "202301", "dplan_id": DPLAN, "dplan_source_id": SOURCE}]}
    task_id = await accept(sessions, NETID, body)
    await session.execute(delete(DplanCode).where(DplanCode.id == DPLAN))  # retired meanwhile
    await session.commit()
    configure_logging("INFO")
    capfd.readouterr()
    engine = create_engine(settings)
    try:
        assert await Worker(settings, engine, create_sessionmaker(engine)).run_one("test/0")
    finally:
        await engine.dispose()
    output = capfd.readouterr().err
    (line,) = [json.loads(x) for x in output.splitlines() if '"msg":"task"' in x]
    assert line["task_id"] == task_id and line["status"] == "error"
    assert line["error"].startswith("rejected")
    assert DPLAN not in output
    async with sessions() as check:
        message = (await check.get(Task, task_id)).message
    assert DPLAN in message  # the requester is told which value
