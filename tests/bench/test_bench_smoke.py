"""The benchmark harness runs end to end on tiny sizes and reports SQL per request and a ratio to
the floor. Nothing here asserts a timing: timings only mean something within one full run."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy.engine import make_url

from bench.cli import main, table

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


async def _drop(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
def database_args(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """No flag (the bench's own temp SQLite file), or a PostgreSQL database it creates."""
    if request.param == "sqlite":
        yield []
        return
    admin = os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)
    name = f"sg_bench_smoke_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield ["--database-url", url]
    asyncio.run(_drop(url))


class TestBenchSmoke:
    def test_reports_sql_per_request_and_a_ratio(self, tmp_path: Path, database_args, capsys):
        output = tmp_path / "latest.json"
        argv = [
            *["--students", "30", "--duration", "0.02", "--warmup", "1", "--builder", "bench"],
            *["--scenarios", "a,b,c,c-rest,d", "--output", str(output), *database_args],
        ]

        assert main(argv) == 0

        report = orjson.loads(output.read_bytes())
        assert report["dataset"]["counts"]["students"] == 30
        ran = {r["key"]: r for r in report["scenarios"] if "skipped" not in r}
        assert {"a", "b", "c"} <= set(ran)
        for result in ran.values():
            assert result["sql_per_request"] >= 1
            assert result["floor_sql_per_request"] == 1
            assert result["ratio_to_floor"] > 0
            assert result["app"]["requests"] >= 2 and result["floor"]["requests"] >= 2
        printed = capsys.readouterr().out
        assert "x floor" in printed and "SQL/req" in printed

    def test_table_names_skipped_scenarios(self):
        row = {"key": "d", "title": "loop", "via": "in-process", "skipped": "not there yet"}
        assert "skipped: not there yet" in table([row])


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
class TestBenchDatabase:
    def test_refuses_to_empty_a_database_it_did_not_create(self, tmp_path: Path, capsys):
        url = os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)

        status = main(["--database-url", url, "--output", str(tmp_path / "x.json")])

        assert status == 2
        assert "was not created by the bench" in capsys.readouterr().err
        assert not (tmp_path / "x.json").exists()
