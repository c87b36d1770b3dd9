"""Bytes on disk of what one caller can make the server keep (issue 19): disclosure records,
tasks and found sets, each written by the app's own write path into a scratch PostgreSQL
database (created, then dropped), then `VACUUM`, then `pg_total_relation_size` (heap, TOAST and
indexes) divided by what was written.

    python -m bench.disk [disclosures] [tasks] [found-sets] [--pg user@host:port]

`disclosures` also measures the layout before migration 0007 (one record per student: the
database is migrated to 0006 and written by the statement that revision's code ran), so both
figures come from the same run."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import string
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import STUDENTS_READ, STUDENTS_WRITE, Principal
from app.config import Settings
from app.db import create_engine, create_sessionmaker, execute_lone, transaction
from app.domain.disclosures import STUDENT, Disclosed, Recipient
from app.domain.dplans import MAX_DESCRIPTION_CHARS, MAX_PAYLOAD_BYTES
from app.domain.filters import Condition
from app.migrate import alembic_config
from app.models import Student
from app.repositories import disclosures as disclosures_repo
from app.repositories.json_reads import rest
from app.repositories.reference import seed_missing_reference_data
from app.services import dplans as dplans_service
from app.services import found_sets as found_sets_service
from bench.serving import ADMIN_URL, psql

DATABASE = "sg_bench_disk"
REQUESTS = 1000
STUDENTS = 10_000
SCOPES = "urn:dartmouth:students:read.sensitive urn:dartmouth:people:private"
# Revision 0006's record: one row per student, written by this statement (app/repositories/
# disclosures.py before migration 0007).
RECORD_0006 = (
    "INSERT INTO disclosures (at, sub, netid, operation, record_types, scopes, request_id) "
    "SELECT $1, $2, x.n, $3, x.t, $4, $5 "
    "FROM unnest(CAST($6 AS TEXT[]), CAST($7 AS TEXT[])) AS x(n, t)"
)


def _netid(n: int) -> str:
    return f"f{n % STUDENTS:06d}"


class Scratch:
    """A fresh database at `revision`, with an engine on it."""

    def __init__(self, pg: str) -> None:
        self.pg = pg
        self.url = f"postgresql+asyncpg://{pg}/{DATABASE}"

    def create(self, revision: str = "head") -> None:
        admin = ADMIN_URL.format(pg=self.pg)
        psql(admin, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        psql(admin, f'CREATE DATABASE "{DATABASE}"')
        command.upgrade(alembic_config(self.url), revision)

    def drop(self) -> None:
        psql(ADMIN_URL.format(pg=self.pg), f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')

    def bytes_of(self, table: str) -> int:
        psql(self.url, f"VACUUM ANALYZE {table}")
        return int(psql(self.url, f"SELECT pg_total_relation_size('{table}')"))

    def run(self, work: Callable[[AsyncEngine], Awaitable[None]]) -> None:
        async def go() -> None:
            engine = create_engine(Settings(database_url=self.url, environment="test"))
            try:
                await work(engine)
            finally:
                await engine.dispose()

        asyncio.run(go())


def _recipient(i: int) -> Recipient:
    return Recipient("registrar-tool", SCOPES, f"{i:032x}", "query StudentPage")


# (students per request, requests): one student, a page of 100, and the hostile request
# (30 aliased pages of 100). Students are drawn in turn from 10,000, so each is named by 1, 10
# and 30 records.
SHOWN = ((1, 10_000), (100, REQUESTS), (3000, 100))


async def _records(engine: AsyncEngine, per_request: int, requests: int, layout: str) -> None:
    at = datetime(2026, 12, 7, tzinfo=UTC)
    for i in range(requests):
        shown = Disclosed()
        for k in range(per_request):
            shown.add(_netid(i * per_request + k), STUDENT)
        who = _recipient(i)
        if layout == "after":
            await disclosures_repo.record_now(engine, who, shown, at)
        else:
            pairs = list(shown)
            params = [at, who.sub, who.operation, who.scopes, who.request_id]
            params += [[n for n, _ in pairs], [t for _, t in pairs]]
            await execute_lone(engine, RECORD_0006, params)


def disclosures(pg: str) -> None:
    print("| layout | students per request | requests | bytes per request | per student shown |")
    print("|---|---|---|---|---|")
    scratch = Scratch(pg)
    try:
        for layout, revision in (("before (0006)", "0006"), ("after (0007)", "head")):
            for per_request, requests in SHOWN:
                scratch.create(revision)
                key = "after" if revision == "head" else "before"
                scratch.run(lambda e, n=per_request, r=requests, k=key: _records(e, n, r, k))
                size = scratch.bytes_of("disclosures") / requests
                each = size / per_request
                print(f"| {layout} | {per_request} | {requests:,} | {size:,.0f} | {each:,.1f} |")
    finally:
        scratch.drop()


def _dplans(kind: str) -> dict[str, Any]:
    entry = {"dplan_source_id": "PHL", "dplan_id": "R"}
    if kind == "typical":  # the seed's request, one term
        described = {
            "dplan_description": "Resident",
            "dplan_source_description": "Registrar Action",
        }
        return {"dplans": [{**entry, **described, "term_code": "202301"}]}
    # The largest the bounds accept and compression cannot shrink: random printable descriptions
    # of 128 characters, as many entries as the 64 KiB payload bound lets in (at most 100).
    rnd = random.Random(19)
    alphabet = string.ascii_letters + string.digits + string.punctuation
    entries: list[dict[str, Any]] = []
    terms = [f"{y}{m}" for y in range(2001, 2031) for m in ("01", "03", "06", "09")][:100]
    for term in terms:
        text = ["".join(rnd.choices(alphabet, k=MAX_DESCRIPTION_CHARS)) for _ in range(2)]
        described = {"dplan_description": text[0], "dplan_source_description": text[1]}
        candidate = {**entry, **described, "term_code": term}
        if len(json.dumps({"dplans": [*entries, candidate]})) > MAX_PAYLOAD_BYTES:
            break
        entries.append(candidate)
    return {"dplans": entries}


async def _tasks(engine: AsyncEngine, kind: str) -> None:
    sessions = create_sessionmaker(engine)
    async with transaction(sessions) as session:
        await seed_missing_reference_data(session)
        session.add(Student(netid="f000abc", first_name="A", last_name="B", ferpa_protected=False))
    claims = {"name": "Integration Test User", "email": "Integration.Test.User@dartmouth.edu"}
    who = Principal(
        sub="f003ghc",
        scopes=frozenset({STUDENTS_READ, STUDENTS_WRITE}),
        claims={**claims, "exp": 1676913785, "iat": 1676902985},
    )
    body = _dplans(kind)
    for _ in range(REQUESTS):
        async with transaction(sessions) as session:
            await dplans_service.set_dplans(session, who, "f000abc", body)


def tasks(pg: str) -> None:
    print("| task | payload as stored (bytes) | bytes per task |")
    print("|---|---|---|")
    scratch = Scratch(pg)
    try:
        for kind in ("typical", "largest"):
            scratch.create()
            scratch.run(lambda e, k=kind: _tasks(e, k))
            payload = psql(scratch.url, "SELECT max(octet_length(payload::text)) FROM tasks")
            size = scratch.bytes_of("tasks") / REQUESTS
            print(f"| {kind} | {int(payload):,} | {size:,.0f} |")
    finally:
        scratch.drop()


# Revision 0006's found set: every matching key, as JSON.
FOUND_SET_0006 = (
    "INSERT INTO found_sets (id, owner_sub, scopes_key, resource, keys, created_at, expires_at) "
    "VALUES ($1, 'registrar-tool', $2, 'academic/plans', $3, $4, $4)"
)
SETS = 1000


def _plan_ids(kind: str) -> list[int]:
    """8,192 plan ids (issue 19's `?pagesize=1` on 8,192 plans): consecutive, as a loaded table's
    tend to be, or with random gaps (what packs worst)."""
    if kind == "consecutive":
        return list(range(20_000, 20_000 + 8192))
    return sorted(random.Random(4).sample(range(1, 50 * 8192), 8192))


async def _found_sets(engine: AsyncEngine, kind: str, layout: str) -> None:
    keys, now = _plan_ids(kind), datetime(2026, 12, 7, tzinfo=UTC)
    who = Principal(sub="registrar-tool", scopes=frozenset({STUDENTS_READ}))
    for i in range(SETS):
        if layout == "before":
            scopes = found_sets_service.scopes_key(who)
            await execute_lone(engine, FOUND_SET_0006, [f"{i:032x}", scopes, json.dumps(keys), now])
            continue
        async with transaction(create_sessionmaker(engine)) as session:
            await found_sets_service.keep(
                session,
                who,
                set_id=f"{i:032x}",
                resource="academic/plans",
                keys=keys[: rest.KEYS_READ],
                total=len(keys),
                conditions=[Condition("department", "eq", "GOVT")],
                bound=max(keys),
                now=now,
                ttl_seconds=43_200,
                max_bytes=Settings().found_set_max_bytes,
            )


def found_sets(pg: str) -> None:
    print("| layout | 8,192 plan ids | bytes per found set |")
    print("|---|---|---|")
    scratch = Scratch(pg)
    try:
        for layout, revision in (("before (0006)", "0006"), ("after (0007)", "head")):
            for kind in ("consecutive", "random gaps"):
                scratch.create(revision)
                key = "after" if revision == "head" else "before"
                scratch.run(lambda e, k=kind, lay=key: _found_sets(e, k, lay))
                size = scratch.bytes_of("found_sets") / SETS
                print(f"| {layout} | {kind} | {size:,.0f} |")
    finally:
        scratch.drop()


MEASURES = {"disclosures": disclosures, "tasks": tasks, "found-sets": found_sets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="*", choices=[*MEASURES, []], default=list(MEASURES))
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    args = parser.parse_args()
    for what in args.what:
        print(f"\n{what} (python -m bench.disk {what})\n")
        MEASURES[what](args.pg)


if __name__ == "__main__":
    main()
