"""Service accounts, their API keys, and the exchange of a key for a token (POST /api/jwt).

An account is granted scopes; a token it obtains carries only the scopes it asked for among
them (none unless asked), so a caller asks for exactly what it needs. Keys are shown once when
made and kept only as a hash. Never commits: the CLI or the route commits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.principal import SERVICE_ACCOUNT_PREFIX
from app.auth.scopes import check_known
from app.auth.signing import mint_for_account
from app.auth.tokens import MAX_SUB_LENGTH
from app.config import Settings
from app.db import reading
from app.domain.api_keys import NewKey, key_id_of, matches, new_key
from app.errors import BadApiKey, Invalid, NotFound, Problem
from app.repositories import Record
from app.repositories.accounts import AccountRepository, ApiKeyRepository

# A token's `sub` holds at most 128 characters (app/auth/tokens.py), `svc:` and the name.
MAX_NAME = MAX_SUB_LENGTH - len(SERVICE_ACCOUNT_PREFIX)


@dataclass(frozen=True)
class Exchange:
    jwt: str
    accepted_scopes: list[str]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _check_name(name: str) -> None:
    if not (0 < len(name) <= MAX_NAME) or not name.isprintable() or any(c.isspace() for c in name):
        message = f"an account name is 1 to {MAX_NAME} printable characters, no spaces"
        raise Invalid(message, [Problem("name", message)])


async def _account(session: AsyncSession, name: str, *, for_update: bool = False) -> Record:
    account = await AccountRepository(session).by_name(name, for_update=for_update)
    if account is None:
        raise NotFound(f"no service account named {name!r}")
    return account


async def create_account(session: AsyncSession, name: str, scopes: list[str]) -> None:
    _check_name(name)
    check_known(scopes)
    if not await AccountRepository(session).insert(name, scopes, utcnow()):
        message = f"service account {name!r} already exists"
        raise Invalid(message, [Problem("name", message)])


async def accounts(session: AsyncSession) -> list[Record]:
    return await AccountRepository(session).all()


async def grant(session: AsyncSession, name: str, scopes: list[str]) -> list[str]:
    """Add scopes (those it has stay where they are); the account's scopes after."""
    check_known(scopes)
    account = await _account(session, name, for_update=True)
    granted = list(dict.fromkeys([*account.scopes, *scopes]))
    await AccountRepository(session).set_scopes(name, granted)
    return granted


async def revoke_scopes(session: AsyncSession, name: str, scopes: list[str]) -> list[str]:
    """Take scopes away. Tokens already minted keep them until they expire
    (API_JWT_LIFETIME_SECONDS); the account's scopes after."""
    check_known(scopes)
    account = await _account(session, name, for_update=True)
    kept = [s for s in account.scopes if s not in scopes]
    await AccountRepository(session).set_scopes(name, kept)
    return kept


async def disable(session: AsyncSession, name: str) -> None:
    """Refuse the account's keys and every token it holds (its tokens stay refused after
    `enable`: those issued until now)."""
    now = utcnow()
    if not await AccountRepository(session).update(name, disabled_at=now, tokens_not_before=now):
        raise NotFound(f"no service account named {name!r}")


async def enable(session: AsyncSession, name: str) -> None:
    """Its keys work again; tokens issued before it was disabled stay refused."""
    if not await AccountRepository(session).update(name, disabled_at=None):
        raise NotFound(f"no service account named {name!r}")


async def revoke_tokens(session: AsyncSession, name: str) -> None:
    """Refuse every token the account holds now; its keys obtain new ones."""
    if not await AccountRepository(session).update(name, tokens_not_before=utcnow()):
        raise NotFound(f"no service account named {name!r}")


async def cutoff_table(sessions: async_sessionmaker[AsyncSession]) -> dict[str, float]:
    """Each cut-off account's name and the instant (epoch seconds) at or before which its
    tokens were issued and are refused; infinity for a disabled one (app/auth/cutoffs.py)."""
    async with reading(sessions) as session:
        rows = await AccountRepository(session).cut_off()
    return {
        row.name: math.inf if row.disabled_at is not None else row.tokens_not_before.timestamp()
        for row in rows
    }


async def create_key(
    session: AsyncSession, name: str, *, expires: date | None = None, note: str | None = None
) -> NewKey:
    """A new key for the account; usable through the whole `expires` day (UTC), if given."""
    await _account(session, name)
    now = utcnow()
    expires_at = None
    if expires is not None:
        expires_at = datetime.combine(expires + timedelta(days=1), time(), UTC)
        if expires_at <= now:
            message = f"the expiry {expires} is in the past"
            raise Invalid(message, [Problem("expires", message)])
    key = new_key()
    await ApiKeyRepository(session).insert(
        {
            "id": key.key_id,
            "account_name": name,
            "key_hash": key.key_hash,
            "note": note,
            "created_at": now,
            "expires_at": expires_at,
        }
    )
    return key


async def keys(session: AsyncSession, name: str | None = None) -> list[Record]:
    if name is not None:
        await _account(session, name)
    return await ApiKeyRepository(session).listed(name)


async def revoke_key(session: AsyncSession, key_id: str) -> None:
    if not await ApiKeyRepository(session).revoke(key_id, utcnow()):
        raise NotFound(f"no unrevoked API key with id {key_id!r}")


def presented_key_id(raw_key: str | None) -> str | None:
    """The id of the key in `Authorization`, read without the database; None when it is not
    a well-formed key of ours."""
    return key_id_of((raw_key or "").strip())


async def exchange(
    session: AsyncSession, raw_key: str | None, requested: list[str], settings: Settings
) -> Exchange:
    """A token for the key's account with the requested scopes it was granted, in the order
    asked. Every refused key gets the same `BadApiKey`; why is its `reason`, for the log."""
    key = (raw_key or "").strip()
    key_id = presented_key_id(key)
    if key_id is None:
        raise BadApiKey("no API key, or not one of ours, in Authorization")
    repo = ApiKeyRepository(session)
    found = await repo.for_exchange(key_id)
    now = utcnow()
    if found is None or not matches(key, found.key_hash):
        raise BadApiKey(f"unknown API key {key_id}")
    if found.revoked_at is not None:
        raise BadApiKey(f"API key {key_id} was revoked")
    if found.expires_at is not None and found.expires_at <= now:
        raise BadApiKey(f"API key {key_id} expired")
    if found.disabled_at is not None:
        raise BadApiKey(f"API key {key_id}: its account is disabled")
    accepted = [s for s in requested if s in found.scopes]
    token = mint_for_account(settings, found.account_name, accepted)
    await repo.mark_used(key_id, now)
    return Exchange(token, accepted)
