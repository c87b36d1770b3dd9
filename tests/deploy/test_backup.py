"""Backup and restore of the compose deployment's database, as README: Deployment says: `pg_dump
-Fc` of the `studentgraph` database while the deployment serves, `pg_restore` into a new
database, `migrate` (idempotent), and the api on the restored database serves the same answers.

The data is what a deployment holds: students (`load`), a service account and its key (the
CLI), tasks applied by a worker, FERPA disclosure records of the reads. The commands are the
documented ones run where `docker compose exec postgres ...` runs them (the postgres user, the
server's socket), with the cluster's socket and port named."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.compose import Deployment, Service, operator_environment
from tests.deploy.steps import (
    DPLANS,
    NETIDS,
    SET_DPLANS,
    TASK,
    dplan,
    exchange,
    gql,
    load_students,
    service_account,
    until,
    up,
)
from tests.infra import Cluster


@pytest.mark.slow  # about 30 s
async def test_a_dump_restored_into_a_new_database_serves_the_same_answers(cluster_root):
    deployment = Deployment(operator_environment(cluster_root), cluster_root)
    cluster = Cluster(cluster_root)
    try:
        _, api, _ = up(deployment, cluster, workers=1)
        load_students(deployment)
        key = service_account(deployment)
        tasks = await _written(api, key)
        before = await _answers(api, key, tasks)
        records = audits(deployment)
        assert sum(len(r) for r in records.values()) >= len(NETIDS)
        dump = cluster_root / "studentgraph.dump"
        _backup(cluster, dump)
        _restore(cluster, dump, "studentgraph_restored")
        api.terminate()
        restored = _on(deployment, "studentgraph_restored")
        assert audits(deployment, restored) == records  # before any read of the restored one
        migrate = deployment.service("migrate", **restored).start()
        assert migrate.proc is not None and migrate.proc.wait(60) == 0, migrate.tail()
        again = deployment.service("api", **restored).start()
        again.wait_healthy(time.monotonic() + 60)
        assert await _answers(again, key, tasks) == before
    except BaseException:
        print(deployment.tails())
        raise
    finally:
        deployment.stop_all()
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()


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


def audits(deployment: Deployment, env: dict[str, str] | None = None) -> dict[str, list[Any]]:
    """`studentgraph audit --netid N --json` for each student: its disclosure records."""
    found = {}
    for netid in NETIDS:
        done = deployment.cli("audit", "--netid", netid, "--json", env=env)
        assert done.returncode == 0, done.stderr
        found[netid] = [json.loads(line) for line in done.stdout.splitlines()]
    return found


async def _written(api: Service, key: str) -> list[str]:
    """Tasks accepted and applied by the worker; their ids."""
    async with httpx.AsyncClient(base_url=f"http://{api.url}", timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {await exchange(client, key)}"
        ids = []
        for i, netid in enumerate(NETIDS[:3]):
            task = await gql(client, SET_DPLANS, n=netid, d=[dplan("202301", "RLO"[i])])
            ids.append(task["setDplans"]["taskId"])

        async def complete() -> bool:
            states = [(await gql(client, TASK, id=i))["task"]["status"] for i in ids]
            return states == ["COMPLETE"] * len(ids)

        await until(complete, 15)
        return ids


async def _answers(api: Service, key: str, tasks: list[str]) -> dict[str, Any]:
    """What callers see (each read leaves a disclosure record): every student's D-plans
    (GraphQL) and terms (REST), the tasks (REST); the key is exchanged anew, so a restored key
    must work."""
    async with httpx.AsyncClient(base_url=f"http://{api.url}", timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {await exchange(client, key)}"
        answers: dict[str, Any] = {}
        for netid in NETIDS:
            answers[netid] = (await gql(client, DPLANS, n=netid))["student"]
            terms = await client.get(f"/api/students/{netid}/terms")
            assert terms.status_code == 200
            answers[f"{netid} terms"] = terms.json()
        for task in tasks:
            read = await client.get(f"/api/tasks/{task}")
            assert read.status_code == 200 and read.json()["status"] == "complete", read.text
            answers[task] = read.json()
        return answers
