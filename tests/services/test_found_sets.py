"""Found sets: kept for one caller (sub and scopes) and one route, sliced into pages; unknown,
expired, or anyone else's: the same 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, Principal
from app.errors import BadRequest
from app.models import FoundSet
from app.services import found_sets
from app.services.found_sets import FoundPage

NOW = datetime(2019, 7, 1, 12, 0, tzinfo=UTC)
TTL = 3600
ME = Principal(sub="f003ghc", scopes=frozenset({STUDENTS_READ}))
PLANS = "academic/plans"
KEYS = [101, 102, 103, 104, 105, 106, 107]


async def keep(session, set_id="set-1", *, principal=ME, keys=KEYS, now=NOW, ttl=TTL):
    await found_sets.keep(
        session,
        principal,
        set_id=set_id,
        resource=PLANS,
        keys=keys,
        total=len(keys),
        conditions=[],
        bound=None,
        now=now,
        ttl_seconds=ttl,
        max_bytes=4096,
    )


async def reopen(session, set_id="set-1", *, principal=ME, resource=PLANS, page=1, now=NOW):
    return await found_sets.reopen_set(
        session,
        principal,
        set_id=set_id,
        resource=resource,
        page=page,
        pagesize=3,
        now=now,
        ttl_seconds=TTL,
    )


async def kept_ids(session) -> list[str]:
    return list((await session.execute(select(FoundSet.id).order_by(FoundSet.id))).scalars())


class TestReopen:
    async def test_pages_of_the_kept_set(self, session):
        await keep(session)

        pages = [await reopen(session, page=n) for n in (1, 2, 3, 4)]

        assert [p.keys for p in pages] == [[101, 102, 103], [104, 105, 106], [107], []]
        assert [p.has_next for p in pages] == [True, True, False, False]
        assert {(p.total, p.pagesize, p.set_id) for p in pages} == {(7, 3, "set-1")}
        assert [p.page for p in pages] == [1, 2, 3, 4]

    async def test_text_keys_keep_their_order(self, session):
        await keep(session, keys=["c0", "a0", "b0", "d0"])

        assert (await reopen(session)).keys == ["c0", "a0", "b0"]

    async def test_the_last_moment_before_expiry(self, session):
        await keep(session)

        assert (await reopen(session, now=NOW + timedelta(seconds=TTL - 1))).total == 7


async def refusal(session, **case) -> tuple[str, list]:
    with pytest.raises(BadRequest) as caught:
        await reopen(session, **case)
    return caught.value.message, caught.value.problems


class TestRefused:
    """Every way a key can fail gives the very answer an unknown key gets."""

    CASES = {
        "expired": dict(now=NOW + timedelta(seconds=TTL)),
        "another sub": dict(principal=Principal(sub="f000oth", scopes=ME.scopes)),
        "more scopes": dict(principal=Principal(sub=ME.sub, scopes=ME.scopes | {PEOPLE_PRIVATE})),
        "no scopes": dict(principal=Principal(sub=ME.sub, scopes=frozenset())),
        "another route": dict(resource="students/f000abc/plans"),
    }

    async def test_an_unknown_key(self, session):
        message, [problem] = await refusal(session, set_id="nope")

        assert message == "the continuation_key is unknown or has expired"
        assert problem.loc == "continuation_key"
        assert problem.message.startswith("a found set is kept 1 hour after the request that")

    @pytest.mark.parametrize("case", sorted(CASES))
    async def test_answered_as_unknown(self, session, case):
        await keep(session)

        assert await refusal(session, **self.CASES[case]) == await refusal(session, set_id="nope")

    @pytest.mark.parametrize(("ttl", "said"), [(12 * 3600, "12 hours"), (5400, "1.5 hours")])
    async def test_says_how_long_sets_are_kept(self, session, ttl, said):
        with pytest.raises(BadRequest) as caught:
            await found_sets.reopen_set(
                session,
                ME,
                set_id="nope",
                resource=PLANS,
                page=1,
                pagesize=3,
                now=NOW,
                ttl_seconds=ttl,
            )
        assert f"a found set is kept {said} after" in caught.value.problems[0].message


class TestKeep:
    async def test_keeping_purges_expired_sets(self, session):
        await keep(session, "old", ttl=60)
        await keep(session, "young", now=NOW + timedelta(seconds=30), ttl=60)
        await keep(session, "new", now=NOW + timedelta(seconds=60))

        assert await kept_ids(session) == ["new", "young"]

    def test_scopes_key_ignores_order_and_sub(self):
        one = Principal(sub="a", scopes=frozenset({STUDENTS_READ, PEOPLE_PRIVATE}))
        two = Principal(sub="b", scopes=frozenset({PEOPLE_PRIVATE, STUDENTS_READ}))

        assert found_sets.scopes_key(one) == found_sets.scopes_key(two)
        assert found_sets.scopes_key(one) != found_sets.scopes_key(ME)


class TestFoundPage:
    @pytest.mark.parametrize(("page", "has_next"), [(1, True), (2, True), (3, False), (9, False)])
    def test_has_next(self, page, has_next):
        assert FoundPage([], total=7, page=page, pagesize=3, set_id=None).has_next is has_next

    def test_a_full_last_page_has_no_next(self):
        assert FoundPage([], total=6, page=2, pagesize=3, set_id="s").has_next is False
