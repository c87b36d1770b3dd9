"""Finding 12: `POST /api/jwt` had no rate limit, and each guess is a database round trip. Now
attempts are counted per API key id presented and per client address before the database is
asked (429 with Retry-After past either), and a forged key and a revoked one still take the same
path and get the same answers."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager

import httpx

from app.db import transaction
from app.services import accounts
from tests.conftest import counting_statements
from tests.hostile import assert_clean
from tests.hostile.stalls import loop_prober


@asynccontextmanager
async def from_address(app, address: str):
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def forged(key_id: str | None = None) -> str:
    return f"sgk_{key_id or secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


async def a_revoked_key(sessions) -> str:
    async with transaction(sessions) as session:
        await accounts.create_account(session, "old-tool", [])
        key = await accounts.create_key(session, "old-tool")
        await accounts.revoke_key(session, key.key_id)
    return key.key


async def attempts(client, key: str, times: int) -> list[httpx.Response]:
    return [await client.post("/api/jwt", headers={"Authorization": key}) for _ in range(times)]


async def test_past_ten_a_minute_one_key_id_is_refused_unread(app, sessions):
    revoked, fake = await a_revoked_key(sessions), forged()
    async with from_address(app, "192.0.2.1") as client:
        async with loop_prober(client) as prober:
            with counting_statements(app) as revoked_sql:
                revoked_answers = await attempts(client, revoked, 10)
            with counting_statements(app) as forged_sql:
                forged_answers = await attempts(client, fake, 10)
            with counting_statements(app) as refused_sql:
                refused = [*await attempts(client, revoked, 1), *await attempts(client, fake, 1)]
            another_key = await client.post("/api/jwt", headers={"Authorization": forged()})
        prober.assert_no_stall()
    assert {(a.status_code, a.content) for a in revoked_answers + forged_answers} == {
        (401, revoked_answers[0].content)
    }  # one answer for both, and the same round trips for both
    assert revoked_sql.count == forged_sql.count > 0
    assert [r.status_code for r in refused] == [429, 429] and refused_sql.count == 0
    assert refused[0].content == refused[1].content  # a forged key and a revoked one alike
    assert refused[0].json()["code"] == "RATE_LIMITED"
    assert int(refused[0].headers["retry-after"]) >= 1
    assert_clean(refused[0])
    assert another_key.status_code == 401  # per key id: another one is still read


async def test_past_sixty_a_minute_one_address_is_refused_whatever_the_key(app):
    async with from_address(app, "192.0.2.2") as guesser, from_address(app, "192.0.2.3") as other:
        async with loop_prober(guesser) as prober:
            guesses = [
                await guesser.post("/api/jwt", headers={"Authorization": forged()})
                for _ in range(60)
            ]
            with counting_statements(app) as sql:
                refused = await guesser.post("/api/jwt", headers={"Authorization": forged()})
                malformed = await guesser.post("/api/jwt", headers={"Authorization": "nope"})
            elsewhere = await other.post("/api/jwt", headers={"Authorization": forged()})
        prober.assert_no_stall()
    assert {g.status_code for g in guesses} == {401}
    assert refused.status_code == 429 and malformed.status_code == 429 and sql.count == 0
    assert elsewhere.status_code == 401  # per address
