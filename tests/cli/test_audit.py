"""`studentgraph audit` and `prune-disclosures`, through the command line (`app.cli.main`, in this
process: tests/cli/commands.py), on records written by real requests and by hand (to place them
in time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from app.repositories.disclosures import DisclosureRepository
from tests.cli.commands import in_process
from tests.factories import disclosure_row, make_student

NOW = datetime.now(UTC).replace(microsecond=0)


def record(netid: str, sub: str, days_ago: int, request_id: str) -> dict[str, object]:
    return disclosure_row(
        netid,
        NOW - timedelta(days=days_ago),
        sub=sub,
        operation="GET /api/students/{netid}",
        record_types="dplans,student",
        scopes="urn:dartmouth:students:read.sensitive",
        request_id=request_id,
    )


async def seed(session) -> None:
    await DisclosureRepository(session).add(
        [
            record("a000001", "registrar", 400, "r-old"),
            record("a000001", "advisor", 3, "r-mid"),
            record("a000001", "registrar", 1, "r-new"),
            record("a000002", "registrar", 0, "r-other"),
        ]
    )
    await session.commit()


def audit(url: str, *args: str) -> list[str]:
    done = in_process("audit", *args, url=url)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


async def test_newest_first_with_who_what_and_when(database_url, session):
    await seed(session)
    lines = audit(database_url, "--netid", "a000001")
    assert lines[0].split("\t") == [
        "at",
        "sub",
        "operation",
        "record_types",
        "scopes",
        "request_id",
    ]
    assert [line.split("\t")[5] for line in lines[1:]] == ["r-new", "r-mid", "r-old"]
    at, sub, operation, types, scopes, _ = lines[1].split("\t")
    assert at == (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (sub, operation, types) == ("registrar", "GET /api/students/{netid}", "dplans,student")
    assert scopes == "urn:dartmouth:students:read.sensitive"


async def test_since_sub_and_json(database_url, session):
    await seed(session)
    since = (NOW - timedelta(days=2)).date().isoformat()
    recent = audit(database_url, "--netid", "a000001", "--since", since)
    assert [line.split("\t")[5] for line in recent[1:]] == ["r-new"]
    advisor = audit(database_url, "--netid", "a000001", "--sub", "advisor", "--json")
    assert [json.loads(line)["request_id"] for line in advisor] == ["r-mid"]
    assert json.loads(advisor[0])["netid"] == "a000001"
    assert audit(database_url, "--netid", "nobody") == [
        "\t".join(["at", "sub", "operation", "record_types", "scopes", "request_id"])
    ]


async def test_a_read_through_the_api_shows_up(database_url, session, client, auth):
    await make_student(session, netid="a000003")
    await session.commit()
    response = await client.get("/api/students/a000003", headers=auth(sub="someone"))
    assert response.status_code == 200
    (line,) = audit(database_url, "--netid", "a000003", "--json")
    assert json.loads(line)["request_id"] == response.headers["x-request-id"]
    assert json.loads(line)["sub"] == "someone"


def test_bad_arguments_are_one_line(database_url):
    for args in (["--since", "yesterday"], ["--limit", "0"], []):
        done = in_process("audit", *(["--netid", "x"] if args else []), *args, url=database_url)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


async def test_prune_keeps_what_the_retention_keeps(database_url, session, monkeypatch):
    await seed(session)
    forever = in_process("prune-disclosures", url=database_url)
    assert forever.returncode == 0 and "kept forever" in forever.stdout
    monkeypatch.setenv("DISCLOSURE_RETENTION_DAYS", "365")
    pruned = in_process("prune-disclosures", url=database_url)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.strip() == "deleted 1 disclosure records older than 365 days"
    left = audit(database_url, "--netid", "a000001")
    assert [line.split("\t")[5] for line in left[1:]] == ["r-new", "r-mid"]
