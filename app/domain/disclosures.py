"""What a request disclosed of students' records: for each netid, which kinds of record.

FERPA (34 CFR 99.32) asks for a record of each disclosure: who received which student's records
and when. A request collects what it shows (`Disclosed`) and the record is written with the read
itself or before the answer leaves (app/services/disclosures.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

STUDENT = "student"  # the student's own row: names, class year, school, FERPA flag
TERMS = "terms"
PLANS = "plans"
DPLANS = "dplans"
TASKS = "tasks"


def joined(record_types: Iterable[str]) -> str:
    """The stored form: sorted, comma-separated, each once."""
    return ",".join(sorted(set(record_types)))


@dataclass(frozen=True)
class Recipient:
    """Who receives a disclosure, and through what: `operation` is a route template
    (`GET /api/students/{netid}`) or a GraphQL operation (`query StudentPage`)."""

    sub: str
    scopes: str  # space-separated, as granted to the token
    request_id: str
    operation: str


@dataclass
class Disclosed:
    """What one request has shown so far, by netid (a student the caller could not see never
    gets here: nothing of it was shown)."""

    by_netid: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, netid: str, *record_types: str) -> Disclosed:
        shown = cls()
        shown.add(netid, *record_types)
        return shown

    def add(self, netid: str, *record_types: str) -> None:
        self.by_netid.setdefault(netid, set()).update(record_types)

    def merge(self, other: Disclosed) -> None:
        for netid, record_types in other.by_netid.items():
            self.add(netid, *record_types)

    def __bool__(self) -> bool:
        return bool(self.by_netid)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """(netid, joined record types), by netid."""
        for netid in sorted(self.by_netid):
            yield netid, joined(self.by_netid[netid])

    def by_record_types(self) -> dict[str, list[str]]:
        """Joined record types -> the netids shown with exactly those (sorted): one disclosure
        record each."""
        groups: dict[str, list[str]] = {}
        for netid, record_types in self:
            groups.setdefault(record_types, []).append(netid)
        return groups


def operation_name(kind: str, name: str | None) -> str:
    """`query StudentPage`, or `query (anonymous)` for an operation without a name."""
    return f"{kind} {name or '(anonymous)'}"[:200]
