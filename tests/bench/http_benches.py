"""What the HTTP benches' smoke tests share: a database of their own on the test PostgreSQL
(dropped afterwards) and the `--pg` naming it."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import make_url

NEEDS_POSTGRESQL = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    pg: str  # user[:password]@host:port, as the benches' --pg takes it

    def argv(self) -> list[str]:
        return ["--database", self.name, "--pg", self.pg, "--free-ports"]


def bench_database(prefix: str) -> Iterator[BenchDatabase]:
    url = make_url(os.environ["TEST_DATABASE_URL"])
    user = url.username or "postgres"
    if url.password:
        user += f":{url.password}"
    pg = f"{user}@{url.host or '127.0.0.1'}:{url.port or 5432}"
    database = BenchDatabase(f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}", pg)
    yield database
    drop = f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)'
    subprocess.run(
        ["psql", f"postgresql://{pg}/postgres", "-Atc", drop], capture_output=True, check=True
    )
