"""FoundSetRepository, called directly: a REST collection's found set kept, read back with its
keys in order (packed: app/domain/found_sets.py), and purged once expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from app.domain.found_sets import pack, unpack
from app.repositories.found_sets import FoundSetRepository

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
TTL = timedelta(hours=12)


@pytest.fixture
def repo(session) -> FoundSetRepository:
    return FoundSetRepository(session)


async def keep(repo: FoundSetRepository, set_id: str, keys, *, expires_at=NOW + TTL) -> None:
    await repo.add(
        set_id=set_id,
        owner_sub="f003ghc",
        scopes_key="s" * 64,
        resource="academic/plans",
        packed=pack(keys),
        total=len(keys),
        beyond=None,
        created_at=NOW,
        expires_at=expires_at,
    )


class TestFoundSetRepository:
    async def test_add_then_read_back(self, repo, session):
        await keep(repo, "set-1", [900010, 9, 900002])
        await session.commit()
        row = await repo.by_id("set-1")
        assert (row.id, row.owner_sub, row.scopes_key) == ("set-1", "f003ghc", "s" * 64)
        assert row.resource == "academic/plans"
        assert unpack(row.packed) == [900010, 9, 900002]  # in the order given, as numbers
        assert (row.total, row.beyond) == (3, None)
        assert row.expires_at == NOW + TTL and row.expires_at.tzinfo is not None

    async def test_text_keys_stay_text(self, repo):
        await keep(repo, "set-2", ["00000000000000000000000a", "1"])
        assert unpack((await repo.by_id("set-2")).packed) == ["00000000000000000000000a", "1"]

    async def test_an_unknown_id(self, repo):
        await keep(repo, "set-1", [1])
        assert await repo.by_id("set-9") is None

    async def test_purge_removes_sets_expired_by_now(self, repo, session):
        await keep(repo, "gone", [1], expires_at=NOW - timedelta(seconds=1))
        await keep(repo, "ends-now", [2], expires_at=NOW)
        await keep(repo, "kept", [3], expires_at=NOW + timedelta(seconds=1))
        await repo.purge_expired(NOW)
        await session.commit()
        assert await repo.by_id("gone") is None
        assert await repo.by_id("ends-now") is None
        assert unpack((await repo.by_id("kept")).packed) == [3]

    async def test_an_id_is_kept_once(self, repo):
        await keep(repo, "set-1", [1])
        with pytest.raises(IntegrityError):
            await keep(repo, "set-1", [2])
