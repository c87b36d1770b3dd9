"""The disclosure records' retention: older records deleted a batch per transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.repositories.disclosures import DisclosureRepository
from app.services import disclosures
from tests.conftest import counting_commits
from tests.factories import disclosure_row, student_records

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_old_records_go_a_batch_per_transaction_and_newer_ones_stay(
    engine, sessions, session
):
    old = NOW - timedelta(days=400)
    rows = [disclosure_row(f"old{i}", old + timedelta(minutes=i)) for i in range(5)]
    await DisclosureRepository(session).add([*rows, disclosure_row("new", NOW)])
    await session.commit()
    with counting_commits(engine) as commits:
        deleted = await disclosures.prune(sessions, NOW, 365, batch=2)
    assert deleted == 5
    assert len(commits) == 3  # 2 + 2 + 1: the short batch says nothing older is left
    assert [r.netid for r in await student_records(session)] == ["new"]


async def test_a_retention_of_zero_keeps_everything(sessions, session):
    await DisclosureRepository(session).add([disclosure_row("ancient", NOW - timedelta(days=4000))])
    await session.commit()
    assert await disclosures.prune(sessions, NOW, 0) == 0
    assert [r.netid for r in await student_records(session)] == ["ancient"]
