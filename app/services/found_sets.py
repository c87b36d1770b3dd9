"""Found sets: what a REST collection query matched, kept so that `continuation_key` pages
through the same set, unchanged by later writes.

A set belongs to the caller's `sub` AND scopes: anyone else presenting its key gets the answer an
unknown key gets. Only keys are kept; each page loads its rows through the usual, access-checked
reads, so a student hidden from the caller never appears, not even on a later page. A set is stored
only when it has more rows than one page: a collection that fits in one page needs no
continuation and costs no write.

A set's size is bounded: its first keys are kept packed (app/domain/found_sets.py) within
FOUND_SET_MAX_BYTES; when more matched, the set also keeps what reads the rest again (`Beyond`:
the first request's filter, and for plans the highest plan id at that request), and a page past
the kept keys reads them by that query, from their place in the set."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.domain.filters import Condition
from app.domain.found_sets import pack_within, unpack
from app.errors import BadRequest, Problem
from app.repositories.found_sets import FoundSetRepository

TERM_OFFSET_FIELD = "quarterly_term.current_term_offset"
ACTIVE_FIELD = "is_active"


@dataclass(frozen=True)
class Beyond:
    """The part of a page past a set's kept keys: `limit` keys from place `offset` of the set,
    read again by the first request's `conditions` (plans: none newer than `bound`)."""

    conditions: list[Condition]
    bound: int | None
    offset: int
    limit: int


@dataclass(frozen=True)
class FoundPage:
    """One page of a found set: its kept keys in set order, what of it lies past them, and where
    it sits in the set."""

    keys: list[Any]
    total: int
    page: int
    pagesize: int
    set_id: str | None  # the continuation key, when the set was kept
    beyond: Beyond | None = None

    @property
    def has_next(self) -> bool:
        return self.page * self.pagesize < self.total


def scopes_key(principal: Principal) -> str:
    """A fingerprint of the caller's scopes: a set made with other scopes is not theirs."""
    return hashlib.sha256(" ".join(sorted(principal.scopes)).encode()).hexdigest()


async def keep(
    session: AsyncSession,
    principal: Principal,
    *,
    set_id: str,
    resource: str,
    keys: Sequence[Any],
    total: int,
    conditions: Sequence[Condition],
    bound: int | None,
    now: datetime,
    ttl_seconds: int,
    max_bytes: int,
) -> None:
    """Keep a found set of `total` rows (more than one page) under `set_id`, for this caller
    only: its first `keys` (in order) packed within `max_bytes`, and, when they are not all of
    them, the `conditions` (and plans' `bound`) that read the rest."""
    packed, kept = pack_within(keys, max_bytes)
    beyond = None
    if kept < total:
        rows = [[c.field, c.op, c.value] for c in conditions]
        beyond = {"conditions": rows, "bound": bound}
    repo = FoundSetRepository(session)
    await repo.purge_expired(now)
    await repo.add(
        set_id=set_id,
        owner_sub=principal.sub,
        scopes_key=scopes_key(principal),
        resource=resource,
        packed=packed,
        total=total,
        beyond=beyond,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )


def _unknown_key(ttl_seconds: int) -> BadRequest:
    hours = ttl_seconds / 3600
    return BadRequest(
        "the continuation_key is unknown or has expired",
        [
            Problem(
                "continuation_key",
                f"a found set is kept {hours:g} hour{'' if hours == 1 else 's'} after the "
                "request that made it, for the "
                "same caller and scopes and the same route; repeat the request without "
                "continuation_key to start a new one",
            )
        ],
    )


async def reopen_set(
    session: AsyncSession,
    principal: Principal,
    *,
    set_id: str,
    resource: str,
    page: int,
    pagesize: int,
    now: datetime,
    ttl_seconds: int,
) -> FoundPage:
    """Page `page` of a kept set. Unknown, expired, someone else's, or made on another route:
    the same 400."""
    row = await FoundSetRepository(session).by_id(set_id)
    if (
        row is None
        or row.expires_at <= now
        or row.owner_sub != principal.sub
        or row.scopes_key != scopes_key(principal)
        or row.resource != resource
    ):
        raise _unknown_key(ttl_seconds)
    keys = unpack(row.packed)
    start, end = (page - 1) * pagesize, page * pagesize
    beyond = None
    if row.beyond is not None and end > len(keys) and start < row.total:
        offset = max(start, len(keys))
        conditions = [Condition(f, op, v) for f, op, v in row.beyond["conditions"]]
        beyond = Beyond(conditions, row.beyond["bound"], offset, end - offset)
    return FoundPage(keys[start:end], row.total, page, pagesize, set_id, beyond)
