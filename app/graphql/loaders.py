"""Per-request dataloaders: one class per lookup, results in key order, one SQL per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.dplans import DplanRepository, DplanRow
from app.repositories.plans import PlanRepository, PlanRow
from app.repositories.students import StudentRepository, StudentRow
from app.repositories.terms import TermRepository, TermRow

K = TypeVar("K", bound=Hashable)


def group_by(rows: Iterable[Any], key: Callable[[Any], K]) -> dict[K, list[Any]]:
    grouped: dict[K, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


class TermsByNetidLoader(DataLoader[str, list[TermRow]]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repo = TermRepository(session)

    async def batch_load_fn(self, netids: list[str]) -> list[list[TermRow]]:
        grouped = group_by(await self.repo.by_netids(netids), key=lambda r: r.netid)
        return [grouped.get(n, []) for n in netids]


class PlansByNetidLoader(DataLoader[str, list[PlanRow]]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repo = PlanRepository(session)

    async def batch_load_fn(self, netids: list[str]) -> list[list[PlanRow]]:
        grouped = group_by(await self.repo.by_netids(netids), key=lambda r: r.student_netid)
        return [grouped.get(n, []) for n in netids]


class DplansByNetidLoader(DataLoader[str, list[DplanRow]]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repo = DplanRepository(session)

    async def batch_load_fn(self, netids: list[str]) -> list[list[DplanRow]]:
        grouped = group_by(await self.repo.by_netids(netids), key=lambda r: r.netid)
        return [grouped.get(n, []) for n in netids]


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


class PlansByParentIdLoader(DataLoader[int, list[PlanRow]]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repo = PlanRepository(session)

    async def batch_load_fn(self, ids: list[int]) -> list[list[PlanRow]]:
        grouped = group_by(await self.repo.by_parent_ids(ids), key=lambda r: r.parent_id)
        return [grouped.get(i, []) for i in ids]


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
        self.plans_by_parent_id = PlansByParentIdLoader(session)
        self.student_by_netid = StudentByNetidLoader(session, include_protected=include_protected)
