"""Service accounts changed by two operators at once: nothing lost, a clear error for a clash."""

from __future__ import annotations

import asyncio

import pytest

from app.auth.scopes import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from app.db import transaction
from app.errors import Invalid
from app.services import accounts

A, B, C = STUDENTS_READ, STUDENTS_WRITE, PEOPLE_PRIVATE


async def test_creating_an_existing_account_is_refused_and_changes_nothing(sessions):
    async with transaction(sessions) as session:
        await accounts.create_account(session, "registrar", [A])
    with pytest.raises(Invalid, match="service account 'registrar' already exists"):
        async with transaction(sessions) as session:
            await accounts.create_account(session, "registrar", [B])
    async with sessions() as session:
        (account,) = await accounts.accounts(session)
    assert (account.name, account.scopes) == ("registrar", [A])


async def test_two_creating_one_account_at_once_one_wins_the_other_is_told(sessions, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers: PostgreSQL (SQLite has one writer at a time)")
    first, second = sessions(), sessions()
    try:
        await accounts.create_account(first, "registrar", [A])  # not committed yet
        racing = asyncio.create_task(accounts.create_account(second, "registrar", [B]))
        await asyncio.sleep(0.2)  # the second insert waits on the first's uncommitted row
        await first.commit()
        with pytest.raises(Invalid, match="already exists"):
            await racing
    finally:
        await first.close()
        await second.close()


async def test_grants_made_at_once_are_both_kept(sessions, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers: PostgreSQL (SQLite has one writer at a time)")
    async with transaction(sessions) as session:
        await accounts.create_account(session, "registrar", [A])
    first, second = sessions(), sessions()
    try:
        await accounts.grant(first, "registrar", [B])  # not committed yet
        # Without the row lock the second would read [A] now and write [A, C]
        # over the first's grant once it commits.
        racing = asyncio.create_task(accounts.grant(second, "registrar", [C]))
        await asyncio.sleep(0.2)
        await first.commit()
        assert await racing == [A, B, C]
        await second.commit()
    finally:
        await first.close()
        await second.close()
    async with sessions() as session:
        (account,) = await accounts.accounts(session)
    assert account.scopes == [A, B, C]
