"""Backup and restore of the compose deployment's database, as README: Deployment says: `pg_dump
-Fc` of the `studentgraph` database while the deployment serves, `pg_restore` into a new
database, `migrate` (idempotent), and the api on the restored database serves the same answers.

The data is what a deployment holds: students (`load`), a service account and its key (the
CLI), tasks applied by a worker, FERPA disclosure records of the reads. The commands are the
documented ones run where `docker compose exec postgres ...` runs them (the postgres user, the
server's socket), with the cluster's socket and port named."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.deploy.compose import Deployment, Service, operator_environment
from tests.deploy.steps import (
    DPLANS,
    NETIDS,
    answers,
    applied_tasks,
    audit_records,
    deployed,
    exchange,
    load_students,
    service_account,
    up,
)
from tests.infra import Cluster

T = TypeVar("T")


@pytest.mark.slow  # about 35 s
async def test_a_dump_restored_into_a_new_database_serves_the_same_answers(cluster_root):
    with deployed(operator_environment(cluster_root), cluster_root) as (deployment, cluster):
        _, api, _ = up(deployment, cluster, workers=1)
        load_students(deployment)
        key = service_account(deployment)
        tasks = await _seen(api, key, lambda client: applied_tasks(client, NETIDS[:3]))
        before = await _seen(api, key, lambda client: answers(client, DPLANS, NETIDS, tasks))
        records = audit_records(_cli(deployment), NETIDS)
        assert sum(len(r) for r in records.values()) >= len(NETIDS)
        dump = cluster_root / "studentgraph.dump"
        _backup(cluster, dump)
        _restore(cluster, dump, "studentgraph_restored")
        api.terminate()
        restored = _on(deployment, "studentgraph_restored")
        # before any read of the restored database
        assert audit_records(_cli(deployment, restored), NETIDS) == records
        migrate = deployment.service("migrate", **restored).start()
        assert migrate.proc is not None and migrate.proc.wait(60) == 0, migrate.tail()
        again = deployment.service("api", **restored).start()
        again.wait_healthy(time.monotonic() + 60)
        after = await _seen(again, key, lambda client: answers(client, DPLANS, NETIDS, tasks))
        assert after == before


def _backup(cluster: Cluster, dump: Path) -> None:
    """`docker compose exec -T postgres pg_dump -U studentgraph -Fc studentgraph > FILE`."""
    local = ("-h", str(cluster.root), "-p", str(cluster.port), "-U", "studentgraph")
    dumped = cluster.run("pg_dump", *local, "-Fc", "-f", str(dump), "studentgraph")
    assert dumped == "" and dump.stat().st_size > 0


def _restore(cluster: Cluster, dump: Path, database: str) -> None:
    """`createdb` and `pg_restore --no-owner --exit-on-error -d DATABASE FILE` (README)."""
    local = ("-h", str(cluster.root), "-p", str(cluster.port), "-U", "studentgraph")
    cluster.run("createdb", *local, database)
    cluster.run("pg_restore", *local, "--no-owner", "--exit-on-error", "-d", database, str(dump))


def _on(deployment: Deployment, database: str) -> dict[str, str]:
    """The app's database settings, naming `database` instead."""
    env = deployment.specs["api"]["environment"]
    return {
        name: f"{env[name].rsplit('/', 1)[0]}/{database}"
        for name in ("DATABASE_URL", "DATABASE_LISTEN_URL")
    }


def _cli(deployment: Deployment, env: dict[str, str] | None = None) -> Callable[..., str]:
    def run(*args: str) -> str:
        done = deployment.cli(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


async def _seen(api: Service, key: str, do: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """What `do` returns, done by the service account (its key exchanged anew: a restored key
    must work)."""
    async with httpx.AsyncClient(base_url=f"http://{api.url}", timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {await exchange(client, key)}"
        return await do(client)
