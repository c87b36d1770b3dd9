"""An upgrade from the previous release, with its data, as README: Deployment says: `migrate`
runs while the previous version serves, then the new version replaces it; or, across a revision
the previous version cannot run beside (OFFLINE_REVISIONS), the documented downtime: it stops,
`migrate` runs, and the new version starts.

The previous release's code (`app/` at PREVIOUS_RELEASE, read out of git; the dependencies are
this virtualenv's, as the lock is unchanged) makes its schema with its own migrations and its
data with its own commands and API: the demo students, a service account and its key, tasks
applied by its worker, disclosure records of its reads. Then this release's `migrate` runs while
a client keeps reading from the previous version (every answer unchanged), and this release
serves the same database: the same answers, the same disclosure records, the previous release's
key exchanged at POST /api/jwt; and the previous version, still serving until it is replaced,
still answers as before and still accepts and applies tasks.

PREVIOUS_RELEASE moves to each release's commit when it is cut; a migration that would break
the previous release's code fails this test, and must then be split (expand now, contract in the
next release) or its downtime documented."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import _admin, _admin_url
from tests.deploy.compose import ROOT
from tests.deploy.steps import answers, applied_tasks, audit_records, gql
from tests.served import Served, running

PREVIOUS_RELEASE = "006fb0c"  # the last commit before the deployment work (issue 20)
# Revisions the previous release cannot run beside (it writes what they take away): an upgrade
# across one stops the previous release, migrates, then starts this one (README: Deployment).
OFFLINE_REVISIONS = {
    "0007": "disclosure records become one per request: the previous release inserts one row "
    "per student, into a column 0007 folds into an array",
}
VERSIONS = Path("app/migrations/versions")
FROZEN = {"CLOCK_NOW": "2019-07-01T12:00:00Z"}  # computed fields (offsets) the same in both
STUDENT = """query($n: String!) { student(netid: $n) { netid name classYear
  terms { termId isActive quarterlyTerm { id currentTermOffset } }
  plans { id name state children { id } } dplans { termCode dplanId dplanSourceId } } }"""
STUDENTS = "{ students(first: 50) { totalCount edges { node { netid } } } }"
NETIDS = ("f000abc", "f0027k4", "f00000x")


def previous_release(into: Path) -> Path:
    """`app/` as it was at PREVIOUS_RELEASE, under `into`."""
    if not (ROOT / ".git").exists():
        pytest.skip("the previous release is read from git history: not a git checkout")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE, "app"],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, f"{PREVIOUS_RELEASE}: {archive.stderr!r} (a shallow clone?)"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


@pytest.fixture
def database() -> Iterator[str]:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("a deployment's upgrade runs on PostgreSQL: set TEST_DATABASE_URL")
    admin = _admin_url()
    name = f"sg_upgrade_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.slow  # about 30 s
async def test_upgrade_from_the_previous_release(database, tmp_path):
    root = previous_release(tmp_path / "previous")
    offline = crossed_offline_revisions(root)
    previous = Served(database, root=root, **FROZEN)
    assert "database is at the newest schema" in previous.cli("migrate")
    previous.demo()
    key = service_account(previous)
    with running(previous):
        tasks = await _written(previous)
        before = await seen(previous, tasks)
        records = audits(previous)
        if not offline:
            assert await _migrated_while_reading(database, previous, before, tasks) > 0
    if offline:  # the documented downtime: the previous release stopped, then migrate
        assert "newest schema" in Served(database).cli("migrate")
    current = Served(database, **FROZEN)
    assert audits(current) == records  # before this release reads anything
    with running(current):
        assert await seen(current, tasks) == before
        await exchanged(current.url, key)
    if not offline:
        with running(previous):
            assert await seen(previous, tasks) == before
            assert len(await _written(previous)) == len(NETIDS)  # and it still writes


def crossed_offline_revisions(previous_root: Path) -> set[str]:
    """The revisions of OFFLINE_REVISIONS between the previous release's and this one's."""

    def revisions(root: Path) -> set[str]:
        return {p.name.split("_")[3] for p in (root / VERSIONS).glob("2*_*.py")}

    return (revisions(ROOT) - revisions(previous_root)) & OFFLINE_REVISIONS.keys()


def service_account(served: Served) -> str:
    scopes = "urn:dartmouth:students:read.sensitive"
    served.cli("account", "create", "registrar-tool", "--scope", scopes)
    return served.cli("apikey", "create", "registrar-tool").strip().splitlines()[-1]


async def exchanged(url: str, key: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        answer = await client.post("/api/jwt", headers={"Authorization": key})
        assert answer.status_code == 200, answer.text


def audits(served: Served) -> dict[str, list[Any]]:
    return audit_records(served.cli, NETIDS)


async def _written(served: Served) -> list[str]:
    """Tasks accepted by `served` and applied by its worker; their ids."""
    headers = {"Authorization": f"Bearer {served.token}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=10) as client:
        return await applied_tasks(client, NETIDS)


async def seen(served: Served, tasks: list[str]) -> dict[str, Any]:
    """What callers see: the students' page over GraphQL, and `answers` for each."""
    headers = {"Authorization": f"Bearer {served.token}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers, timeout=10) as client:
        return {
            "students": await gql(client, STUDENTS),
            **(await answers(client, STUDENT, NETIDS, tasks)),
        }


async def _migrated_while_reading(
    database: str, previous: Served, before: dict[str, Any], tasks: list[str]
) -> int:
    """This release's `migrate`, while the previous release answers reads as before; how many
    reads it answered meanwhile."""
    migrate = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "app", "migrate"),
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reads = 0

    async def read_until_migrated() -> None:
        nonlocal reads
        while migrate.returncode is None:
            assert await seen(previous, tasks) == before
            reads += 1

    reading = asyncio.create_task(read_until_migrated())
    out, err = await migrate.communicate()
    assert migrate.returncode == 0 and b"newest schema" in out, err
    with contextlib.suppress(asyncio.CancelledError):
        await reading
    return reads
