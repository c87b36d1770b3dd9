"""Webhooks: what an operator creates and manages (`studentgraph webhook ...`), and what a
worker decides about a delivery: which entries (those after the webhook's position its account
may read, of its kinds), where it may send them, what a success or a failure changes.

Delivery is at least once, in position order: a webhook's position moves only after its
endpoint answered 2xx, under a lease that one worker holds at a time; a worker that dies
mid-delivery leaves the lease to run out and the batch to be sent again (a duplicate, counted in
`redelivered`). Failures back off exponentially; WEBHOOK_MAX_FAILURES in a row pause the webhook
(never dropped: it keeps its position and resumes from it). Never commits."""

from __future__ import annotations

import asyncio
import random
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import STUDENTS_READ, Principal
from app.auth.principal import SERVICE_ACCOUNT_PREFIX
from app.auth.scopes import sees_protected
from app.domain.disclosures import Disclosed, Recipient
from app.domain.webhooks import address_refused, new_secret, url_problem
from app.errors import Invalid, NotFound, Problem
from app.repositories import Record
from app.repositories.accounts import AccountRepository
from app.repositories.change_records import KINDS
from app.repositories.changes import ChangeFeed
from app.repositories.webhooks import WebhookRepository
from app.services.changes import RECORD_TYPES
from app.services.tasks import utcnow

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
ACTIVE, PAUSED = "active", "paused"


def _invalid(loc: str, message: str) -> Invalid:
    return Invalid(f"{loc} {message}", [Problem(loc, message)])


async def resolved(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _invalid("--url", f"names a host that does not resolve ({exc})") from exc
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, *, allow_private: bool) -> None:
    """Invalid for a URL a webhook may not call: malformed, or (unless `allow_private`) one
    whose host is or resolves to a loopback, link-local or metadata address."""
    problem = url_problem(url)
    if problem:
        raise _invalid("--url", problem)
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    for address in await resolved(host):
        why = address_refused(address)
        if why:
            raise _invalid("--url", f"{why}; WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=true allows it")


def _kinds(kinds: list[str] | None) -> str | None:
    if not kinds:
        return None
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise _invalid("--kinds", f"{', '.join(unknown)}: the kinds are {', '.join(KINDS)}")
    return ",".join(k for k in KINDS if k in kinds)


async def create(
    session: AsyncSession,
    url: str,
    account: str,
    kinds: list[str] | None,
    *,
    allow_private: bool,
    after: int | None = None,
) -> tuple[int, str]:
    """A new webhook delivering the entries after `after` (default: the feed's current end,
    so what is committed from now on); its id and its signing secret (shown once by the
    CLI)."""
    await check_url(url, allow_private=allow_private)
    if await AccountRepository(session).by_name(account) is None:
        raise NotFound(f"no service account named {account!r}")
    now = utcnow()
    head = await ChangeFeed.of_session(session).head() if after is None else after
    secret = new_secret()
    values: dict[str, Any] = {
        "url": url,
        "account_name": account,
        "kinds": _kinds(kinds),
        "secret": secret,
        "state": ACTIVE,
        "after": head,
        "failures": 0,
        "next_attempt_at": now,
        "created_at": now,
        "delivered": 0,
        "redelivered": 0,
        "sending_through": 0,
    }
    return await WebhookRepository(session).insert(values), secret


async def webhooks(session: AsyncSession) -> list[Record]:
    return await WebhookRepository(session).all()


async def lag(engine: AsyncEngine, session: AsyncSession, hook: Record) -> int | None:
    """How many entries its account may read wait after its position (None: no account)."""
    principal = await principal_of(session, hook.account_name)
    if principal is None or STUDENTS_READ not in principal.scopes:
        return None
    feed, total = ChangeFeed(engine), 0
    for kind in hook.kinds.split(",") if hook.kinds else [None]:
        count, _, _ = await feed.remaining(
            hook.after, kind=kind, netid=None, include_protected=sees_protected(principal)
        )
        total += count
    return total


async def _set(session: AsyncSession, webhook_id: int, **values: Any) -> None:
    if not await WebhookRepository(session).update(webhook_id, **values):
        raise NotFound(f"no webhook with id {webhook_id}")


async def pause(
    session: AsyncSession, webhook_id: int, reason: str = "paused by an operator"
) -> None:
    await _set(session, webhook_id, state=PAUSED, paused_reason=reason)


async def resume(session: AsyncSession, webhook_id: int) -> None:
    """Active again, from its position, at once."""
    await _set(
        session, webhook_id, state=ACTIVE, paused_reason=None, failures=0, next_attempt_at=utcnow()
    )


async def delete(session: AsyncSession, webhook_id: int) -> None:
    if not await WebhookRepository(session).delete(webhook_id):
        raise NotFound(f"no webhook with id {webhook_id}")


# --- delivery (the workers) ------------------------------------------------------------------


async def principal_of(session: AsyncSession, account: str) -> Principal | None:
    """The account's standing now: its scopes, or None when it is gone or disabled."""
    row = await AccountRepository(session).by_name(account)
    if row is None or row.disabled_at is not None:
        return None
    scopes = tuple(row.scopes)
    return Principal(f"{SERVICE_ACCOUNT_PREFIX}{account}", frozenset(scopes), {}, scopes)


async def claim_due(session: AsyncSession, owner: str, lease_seconds: float) -> list[Record]:
    return await WebhookRepository(session).claim_due(
        owner, utcnow(), timedelta(seconds=lease_seconds)
    )


async def next_due(session: AsyncSession) -> datetime | None:
    return await WebhookRepository(session).next_due()


@dataclass(frozen=True)
class Batch:
    entries: list[dict[str, Any]]  # of the webhook's kinds, in position order
    next_after: int  # its position once delivered
    shown: Disclosed


async def batch(engine: AsyncEngine, principal: Principal, hook: Record, limit: int) -> Batch:
    """The next entries for `hook` its account may read (none past a retention gap: the
    webhook then starts after it, as a consumer told 410 would read again)."""
    page = await ChangeFeed(engine).page(
        hook.after, limit, kind=None, netid=None, include_protected=sees_protected(principal)
    )
    kinds = set(hook.kinds.split(",")) if hook.kinds else set(KINDS)
    entries = [e for e in orjson.loads(page.entries) if e["kind"] in kinds]
    shown = Disclosed()
    for entry in entries:
        shown.add(entry["netid"], RECORD_TYPES[entry["kind"]])
    return Batch(entries, page.next_after, shown)


def recipient(hook: Record, principal: Principal, message_id: str) -> Recipient:
    return Recipient(
        principal.sub, " ".join(principal.scope_order), message_id, f"webhook {hook.id}"
    )


async def sending(session: AsyncSession, hook: Record, owner: str, sent: Batch) -> bool:
    """Mark the batch as being sent (before it is): sent again, it is counted as such."""
    last = sent.entries[-1]["position"] if sent.entries else hook.after
    through = max(last, hook.sending_through)
    return await WebhookRepository(session).held(hook.id, owner, sending_through=through)


async def delivered(session: AsyncSession, hook: Record, owner: str, sent: Batch) -> bool:
    """The batch was accepted (or was empty): the webhook moves past it."""
    again = sum(1 for e in sent.entries if e["position"] <= hook.sending_through)
    values: dict[str, Any] = {
        "after": sent.next_after,
        "failures": 0,
        "last_error": None,
        "delivered": hook.delivered + len(sent.entries),
        "redelivered": hook.redelivered + again,
        "lease_until": None,
    }
    if sent.entries:
        values["last_delivery_at"] = utcnow()
    return await WebhookRepository(session).held(hook.id, owner, **values)


async def failed(
    session: AsyncSession, hook: Record, owner: str, error: str, max_failures: int
) -> None:
    """A failed delivery: tried again after a backoff, or paused after `max_failures`."""
    failures = hook.failures + 1
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (failures - 1))
    delay *= 0.8 + 0.4 * random.random()  # noqa: S311 (jitter, not secrecy)
    values: dict[str, Any] = {
        "failures": failures,
        "last_error": error[:500],
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
        "lease_until": None,
    }
    if failures >= max_failures:
        values.update(state=PAUSED, paused_reason=f"{failures} deliveries failed in a row")
    await WebhookRepository(session).held(hook.id, owner, **values)
