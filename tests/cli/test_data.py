"""load, demo, generate end to end, against the test database (SQLite, and PostgreSQL in CI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.auth.scopes import STUDENTS_READ
from app.cli import main
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.domain.demo import SAMPLE_PLANS, demo_document
from app.services.generator import NETID_PREFIX
from tests.domain.test_load_format import PLAN, STUDENT, changed, document
from tests.graphql_client import gql_data
from tests.rest.json_compare import assert_same_json
from tests.rest.seed_data import sample_after, sample_request, seed_text
from tests.services.test_importer import dump_database

ROOT = Path(__file__).resolve().parents[2]
TERMS_SEED, PLANS_SEED = seed_text("004"), seed_text("003")


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    async def read() -> dict[str, list[tuple[Any, ...]]]:
        engine = create_engine(Settings(database_url=url))
        try:
            async with create_sessionmaker(engine)() as session:
                return await dump_database(session)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def run_cli(*args: str, url: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def write(tmp_path: Path, raw: Any, name: str = "data.json") -> str:
    path = tmp_path / name
    path.write_bytes(raw if isinstance(raw, bytes) else orjson.dumps(raw))
    return str(path)


class TestLoad:
    def test_loads_a_file(self, env_db, tmp_path, capsys):
        assert main(["load", write(tmp_path, document())]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"loaded {tmp_path / 'data.json'}: 1 students")
        assert dump(env_db)["academic_plans"][0][0] == 20111

    def test_a_bad_file_names_each_problem_and_writes_nothing(self, env_db, tmp_path, capsys):
        assert main(["load", write(tmp_path, document())]) == 0
        before = dump(env_db)
        bad = document(
            students=[changed(STUDENT, last_name="Changed")],
            plans=[PLAN, changed(PLAN, id="20112", parent_id=99)],
        )
        path = write(tmp_path, bad, "bad.json")
        capsys.readouterr()

        assert main(["load", path]) == 1

        err = capsys.readouterr().err.splitlines()
        assert err == [
            f"studentgraph: error: {path}: the file refers to rows that do not exist: "
            "1 problem, nothing was loaded",
            f"{path}: plans[1].parent_id: plan 99 does not exist",
        ]
        assert dump(env_db) == before

    @pytest.mark.parametrize(
        ("content", "line"),
        [
            (b'{"students": [', "not valid JSON: unexpected end of data: line 1"),
            (b"[]", "the file must hold one JSON object, got a list"),
            (b'{"students": [], "teachers": []}', "teachers: unknown list; expected some of"),
        ],
    )
    def test_unreadable_files(self, env_db, tmp_path, capsys, content, line):
        path = write(tmp_path, content)
        assert main(["load", path]) == 1
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 2
        assert err[1].startswith(f"{path}: {line}")

    def test_a_missing_file_is_one_line(self, env_db, tmp_path, capsys):
        missing = tmp_path / "nope.json"
        assert main(["load", str(missing)]) == 1
        expected = f"studentgraph: error: cannot read {missing}: No such file or directory\n"
        assert capsys.readouterr().err == expected

    def test_subprocess_reports_without_a_traceback(self, database_url, tmp_path):
        bad = {"plans": [changed(PLAN, updated=True, student_netid=...)]}
        result = run_cli("load", write(tmp_path, bad), url=database_url)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[1:] == [
            f'{tmp_path / "data.json"}: plans[0].updated: expected "Y" or "N", got boolean true',
            f"{tmp_path / 'data.json'}: plans[0].student_netid: required field is missing",
        ]

    def test_reads_stdin(self, database_url):
        result = run_cli("load", "-", url=database_url, stdin=orjson.dumps(document()))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("loaded <stdin>: ")

    def test_a_database_without_tables_is_one_line(self, tmp_path):
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        result = run_cli("load", write(tmp_path, document()), url=url)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1, result.stderr
        assert "migrate" in result.stderr


STUDENT_QUERY = """
query($netid: String!) {
  student(netid: $netid) {
    terms { id termId lmsTerm { id } }
    plans { planId parentId prerequisites culminatingExperience studentRationale updatedAt }
    dplans { termCode dplanId dplanSourceId }
  }
}
"""


class TestDemo:
    async def test_demo_answers_as_the_samples(self, env_db, client, auth):
        assert await asyncio.to_thread(main, ["demo"]) == 0

        abc = (await gql_data(client, STUDENT_QUERY, auth(), {"netid": "f000abc"}))["student"]
        assert [(t["id"], t["lmsTerm"]["id"]) for t in abc["terms"]] == [
            ("5d72b52ddeaaa38d5c98b5cf", "WI18"),
            ("5d72b5a6deaaa38d5c9bb429", "WI19"),
        ]
        k4 = (await gql_data(client, STUDENT_QUERY, auth(), {"netid": "f0027k4"}))["student"]
        plans = sorted(k4["plans"], key=lambda p: p["planId"])
        assert [(p["planId"], p["parentId"]) for p in plans] == [
            ("20109", 20111),
            ("20110", 20111),
            ("20111", None),
            ("22191", None),
        ]
        for plan, sample in zip(plans, SAMPLE_PLANS, strict=True):
            assert plan["prerequisites"] == sample["prerequisites"]
            assert plan["culminatingExperience"] == sample["culminating_experience"]
            assert plan["studentRationale"] == sample["student_rationale"]
        assert "\r\n" in plans[0]["prerequisites"] and "&nbsp;" in plans[0]["prerequisites"]
        assert k4["dplans"] == [
            {"termCode": "202501", "dplanId": "R", "dplanSourceId": "PHL"},
            {"termCode": "202503", "dplanId": "R", "dplanSourceId": "PHL"},
        ]
        x = await gql_data(client, STUDENT_QUERY, auth(), {"netid": "f00000x"})
        assert x["student"] is not None

    async def test_some_demo_students_are_ferpa_protected(self, env_db, client, auth):
        assert await asyncio.to_thread(main, ["demo"]) == 0
        query = "{ students { totalCount } }"
        everyone = (await gql_data(client, query, auth()))["students"]["totalCount"]
        visible = (await gql_data(client, query, auth(STUDENTS_READ)))["students"]["totalCount"]
        assert everyone >= 40
        assert 3 <= everyone - visible <= 5

    @pytest.mark.skipif(TERMS_SEED is None or PLANS_SEED is None, reason="seeds not beside repo")
    async def test_rest_answers_the_seed_sample_requests_exactly(self, env_db, client, auth):
        assert await asyncio.to_thread(main, ["demo"]) == 0
        for text in (TERMS_SEED, PLANS_SEED):
            assert text is not None
            response = await client.get(sample_request(text), headers=auth())
            assert response.status_code == 200, response.text
            assert_same_json(response.json(), sample_after(text, "Sample Return"))

    async def test_rest_answers_load_back_unchanged(self, env_db, client, auth, tmp_path):
        """DESIGN 2: what the REST routes return is a load file that changes nothing."""
        assert await asyncio.to_thread(main, ["demo"]) == 0
        before = await asyncio.to_thread(dump, env_db)
        netids = [s["netid"] for s in demo_document()["students"]]
        raw: dict[str, list[Any]] = {"students": [], "student_terms": [], "plans": []}
        for netid in netids:
            raw["students"].append(await _get(client, f"/api/students/{netid}", auth()))
            raw["student_terms"] += await _get(client, f"/api/students/{netid}/terms", auth())
            raw["plans"] += await _get(client, f"/api/students/{netid}/plans", auth())
        assert await asyncio.to_thread(main, ["load", write(tmp_path, raw)]) == 0
        after = await asyncio.to_thread(dump, env_db)
        # The reads are recorded as disclosures (one per student per route); the data is as it was.
        assert len(after.pop("disclosures")) == 3 * len(netids)
        assert before.pop("disclosures") == []
        assert after == before

    def test_demo_twice_is_the_same_state(self, env_db):
        assert main(["demo"]) == 0
        first = dump(env_db)
        assert main(["demo"]) == 0
        assert dump(env_db) == first

    def test_the_demo_document_loads_with_load(self, env_db, tmp_path):
        path = str(tmp_path / "demo.json")
        assert main(["demo", "--output", path]) == 0
        assert main(["load", path]) == 0
        loaded = dump(env_db)
        assert main(["demo"]) == 0
        assert dump(env_db) == loaded


async def _get(client: Any, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestGenerate:
    def test_small_run_in_realistic_proportions(self, env_db):
        assert main(["generate", "--students", "50", "--seed", "7"]) == 0
        rows = dump(env_db)
        students = rows["students"]
        assert len(students) == 50
        assert all(s[0].startswith(NETID_PREFIX) for s in students)
        terms_per = _per_student(rows["student_terms"], 1)
        assert set(terms_per) == {s[0] for s in students}
        assert all(4 <= n <= 12 for n in terms_per.values())
        plans_per = _per_student(rows["academic_plans"], 8)
        assert all(1 <= n <= 3 for n in plans_per.values())
        assert any(p[4] is not None for p in rows["academic_plans"])  # some have a parent
        ratio = len(rows["student_dplans"]) / len(rows["student_terms"])
        assert 0.25 <= ratio <= 0.45
        assert sum(s[6] for s in students) <= 5  # ~3% FERPA-protected

    def test_the_same_seed_gives_the_same_rows(self, env_db):
        assert main(["generate", "--students", "20", "--seed", "3"]) == 0
        first = dump(env_db)
        assert main(["generate", "--students", "20", "--seed", "3"]) == 0
        assert dump(env_db) == first

    @pytest.mark.parametrize(
        ("value", "message"),
        [("0", "must be at least 1, not 0"), ("many", "expected a whole number, not 'many'")],
    )
    def test_a_bad_count_is_one_line(self, value, message, capsys):
        with pytest.raises(SystemExit) as exited:
            main(["generate", "--students", value])
        assert exited.value.code == 2
        assert capsys.readouterr().err == (
            f"studentgraph generate: error: argument --students: {message} (see --help)\n"
        )

    def test_beside_the_demo(self, env_db):
        assert main(["demo"]) == 0
        demo_students = len(dump(env_db)["students"])
        assert main(["generate", "--students", "10"]) == 0
        assert len(dump(env_db)["students"]) == demo_students + 10


def _per_student(rows: list[tuple[Any, ...]], netid_column: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[netid_column]] = counts.get(row[netid_column], 0) + 1
    return counts
