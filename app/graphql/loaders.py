"""Per-request dataloaders: one class per lookup, results in key order, one SQL per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from functools import partial
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.dplans import DplanRepository
from app.repositories.plans import PlanRepository, PlanRow
from app.repositories.students import StudentRepository, StudentRow
from app.repositories.terms import TermRepository

K = TypeVar("K", bound=Hashable)


def group_by(rows: Iterable[Any], key: Callable[[Any], K]) -> dict[K, list[Any]]:
    grouped: dict[K, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


class _GroupedLoader(DataLoader[K, list[Any]]):
    """Rows of many keys in one statement, grouped back to their key, in key order."""

    def __init__(self, fetch: Callable[[list[K]], Awaitable[list[Any]]], key: str) -> None:
        super().__init__()
        self.fetch, self.key = fetch, key

    async def batch_load_fn(self, keys: list[K]) -> list[list[Any]]:
        grouped = group_by(await self.fetch(keys), key=lambda r: getattr(r, self.key))
        return [grouped.get(k, []) for k in keys]


# One named loader a lookup (house style); what they share is _GroupedLoader.
class TermsByNetidLoader(_GroupedLoader[str]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(TermRepository(session).by_netids, "netid")


class PlansByNetidLoader(_GroupedLoader[str]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(PlanRepository(session).by_netids, "student_netid")


class DplansByNetidLoader(_GroupedLoader[str]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(DplanRepository(session).by_netids, "netid")


class PlansByParentIdLoader(_GroupedLoader[int]):
    """Children of plans; a child of a student the caller may not see is left out."""

    def __init__(self, session: AsyncSession, *, include_protected: bool) -> None:
        by_parent_ids = PlanRepository(session).by_parent_ids
        super().__init__(partial(by_parent_ids, include_protected=include_protected), "parent_id")


class PlanByIdLoader(DataLoader[int, PlanRow | None]):
    """Plans by id, hiding those of students the caller may not see."""

    def __init__(self, session: AsyncSession, *, include_protected: bool) -> None:
        super().__init__()
        self.repo = PlanRepository(session)
        self.include_protected = include_protected

    async def batch_load_fn(self, ids: list[int]) -> list[PlanRow | None]:
        rows = await self.repo.by_ids(ids, include_protected=self.include_protected)
        by_id = {r.id: r for r in rows}
        return [by_id.get(i) for i in ids]


# Alike PlanByIdLoader: a DataLoader is typed by its key and row, and each calls its own
# repository; a generic loader over both would hide which read each level makes.
class StudentByNetidLoader(DataLoader[str, StudentRow | None]):
    """Students by netid; a FERPA-hidden student loads as None, like an unknown one."""

    def __init__(self, session: AsyncSession, *, include_protected: bool) -> None:
        super().__init__()
        self.repo = StudentRepository(session)
        self.include_protected = include_protected

    async def batch_load_fn(self, netids: list[str]) -> list[StudentRow | None]:
        rows = await self.repo.by_netids(netids, include_protected=self.include_protected)
        by_netid = {r.netid: r for r in rows}
        return [by_netid.get(n) for n in netids]


class Loaders:
    """The loaders of one request (never shared: their caches hold what this caller may see)."""

    def __init__(self, session: AsyncSession, *, include_protected: bool) -> None:
        self.terms_by_netid = TermsByNetidLoader(session)
        self.plans_by_netid = PlansByNetidLoader(session)
        self.dplans_by_netid = DplansByNetidLoader(session)
        self.plan_by_id = PlanByIdLoader(session, include_protected=include_protected)
        self.plans_by_parent_id = PlansByParentIdLoader(
            session, include_protected=include_protected
        )
        self.student_by_netid = StudentByNetidLoader(session, include_protected=include_protected)
