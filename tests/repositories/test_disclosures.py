"""Disclosure records by request (migration 0007): a student's records are still one index
lookup away (`studentgraph audit --netid`), on each database by its own index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.repositories.disclosures import DisclosureRepository
from tests.factories import disclosure_row

NOW = datetime(2026, 12, 7, tzinfo=UTC)


async def _records(session, count: int) -> None:
    """`count` records of pages of 100 students drawn from 10,000, and one of `f-target`."""
    rows = [
        disclosure_row(
            "unused",
            NOW - timedelta(minutes=i),
            netids=[f"f{(i * 100 + k) % 10_000:06d}" for k in range(100)],
            request_id=f"r{i}",
        )
        for i in range(count)
    ]
    rows.append(disclosure_row("f-target", NOW, request_id="target"))
    await DisclosureRepository(session).add(rows)
    await session.commit()


async def _plan(session, netid: str) -> str:
    """The audit's own statement, EXPLAINed with its values written in."""
    repo = DisclosureRepository(session)
    stmt = repo._audit_statement(netid, since=None, sub=None, limit=1000)
    dialect = session.get_bind().dialect
    sql = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN" if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    rows = (await session.execute(text(f"{explain} {sql}"))).all()
    return "\n".join(str(row[-1]) for row in rows)


async def test_a_students_records_are_one_index_lookup(session):
    await _records(session, 2000)
    found = await DisclosureRepository(session).of_student(
        "f-target", since=None, sub=None, limit=10
    )
    assert [r.request_id for r in found] == ["target"]
    if session.get_bind().dialect.name == "postgresql":
        # On a table this small a scan is cheaper, and the planner rightly takes it; with scans
        # priced out the plan shows that the statement is answered by the GIN index.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await _plan(session, "f-target")
        assert "ix_disclosures_netids" in plan, plan
        assert "Seq Scan" not in plan, plan
    else:
        plan = await _plan(session, "f-target")
        assert "SEARCH disclosure_netids USING PRIMARY KEY (netid=?)" in plan, plan
        assert "SCAN disclosures" not in plan, plan
