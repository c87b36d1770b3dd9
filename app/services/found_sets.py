"""Found sets: what a REST collection query matched, kept so that `continuation_key` pages
through the same set, unchanged by later writes.

A set belongs to the caller's `sub` AND scopes: anyone else presenting its key gets the answer an
unknown key gets. Only keys are kept; each page loads its rows through the usual, access-checked
reads, so a student hidden from the caller never appears, not even on a later page. A set is stored
only when it has more rows than one page: a collection that fits in one page needs no
continuation and costs no write."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import STUDENTS_READ, Principal, require_scopes
from app.auth.scopes import sees_protected
from app.domain.filters import Condition
from app.errors import BadRequest, Invalid, Problem
from app.repositories.filtering import to_flag
from app.repositories.found_sets import FoundSetRepository
from app.repositories.plans import FIELDS as PLAN_FIELDS
from app.repositories.plans import PlanRepository
from app.repositories.terms import STUDENT_TERM_FIELDS, TermRow
from app.services import students as students_service

TERM_OFFSET_FIELD = "quarterly_term.current_term_offset"
ACTIVE_FIELD = "is_active"


@dataclass(frozen=True)
class FoundPage:
    """One page of a found set: its keys in set order, and where it sits in the set."""

    keys: list[Any]
    total: int
    page: int
    pagesize: int
    set_id: str | None  # the continuation key, when the set was kept

    @property
    def has_next(self) -> bool:
        return self.page * self.pagesize < self.total


def scopes_key(principal: Principal) -> str:
    """A fingerprint of the caller's scopes: a set made with other scopes is not theirs."""
    return hashlib.sha256(" ".join(sorted(principal.scopes)).encode()).hexdigest()


def _slice(keys: Sequence[Any], page: int, pagesize: int) -> list[Any]:
    start = (page - 1) * pagesize
    return list(keys[start : start + pagesize])


async def open_set(
    session: AsyncSession,
    principal: Principal,
    *,
    set_id: str,
    resource: str,
    keys: Sequence[Any],
    pagesize: int,
    now: datetime,
    ttl_seconds: int,
) -> FoundPage:
    """Page 1 of a new found set; the set is kept (under `set_id`) only if there is a page 2."""
    kept = len(keys) > pagesize
    if kept:
        repo = FoundSetRepository(session)
        await repo.purge_expired(now)
        await repo.add(
            set_id=set_id,
            owner_sub=principal.sub,
            scopes_key=scopes_key(principal),
            resource=resource,
            keys=keys,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    return FoundPage(_slice(keys, 1, pagesize), len(keys), 1, pagesize, set_id if kept else None)


def _unknown_key(ttl_seconds: int) -> BadRequest:
    hours = ttl_seconds / 3600
    return BadRequest(
        "the continuation_key is unknown or has expired",
        [
            Problem(
                "continuation_key",
                f"a found set is kept {hours:g} hours after the request that made it, for the "
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
    keys: list[Any] = row.keys
    return FoundPage(_slice(keys, page, pagesize), len(keys), page, pagesize, set_id)


async def plan_keys(
    session: AsyncSession, principal: Principal, conditions: Sequence[Condition]
) -> list[int]:
    """Ids of the plans the caller may see that match `conditions`, in id order."""
    require_scopes(principal, STUDENTS_READ)
    return await PlanRepository(session).ids(
        conditions, include_protected=sees_protected(principal)
    )


def unknown_plan_fields(conditions: Sequence[Condition]) -> list[str]:
    """Attributes no plan filter knows (REST ignores them and names them back)."""
    return [c.field for c in conditions if c.field not in PLAN_FIELDS]


def unknown_term_fields(conditions: Sequence[Condition]) -> list[str]:
    known = {*STUDENT_TERM_FIELDS, TERM_OFFSET_FIELD, ACTIVE_FIELD}
    return [c.field for c in conditions if c.field not in known]


def _wanted_active(conditions: Sequence[Condition]) -> set[bool]:
    """The `is_active` values asked for (`Y`/`N`, `true`/`false`); both when not asked."""
    wanted = {True, False}
    for cond in conditions:
        if cond.field != ACTIVE_FIELD:
            continue
        try:
            if cond.op != "eq":
                raise ValueError("takes Y or N only, no range or prefix")
            wanted &= {to_flag(cond.value)}
        except ValueError as exc:
            raise Invalid("bad filter", [Problem(ACTIVE_FIELD, f"{cond.value!r}: {exc}")]) from exc
    return wanted


async def terms_found(
    session: AsyncSession,
    principal: Principal,
    netid: str,
    conditions: Sequence[Condition],
    *,
    current_term_id: str | None,
) -> list[TermRow]:
    """A visible student's terms matching `conditions`, including the computed `is_active`
    (a student holds a handful of terms, so it is applied to the rows read)."""
    wanted = _wanted_active(conditions)
    rows = await students_service.terms_of(
        session,
        principal,
        netid,
        conditions=[c for c in conditions if c.field != ACTIVE_FIELD],
        current_term_id=current_term_id,
    )
    return [r for r in rows if (r.quarterly_term_id == current_term_id) in wanted]
