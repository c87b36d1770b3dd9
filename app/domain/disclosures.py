"""What a request disclosed of students' records: for each netid, which kinds of record.

FERPA (34 CFR 99.32) asks for a record of each disclosure: who received which student's records
and when. A request collects what it shows (`Disclosed`) and the record is written with the read
itself or before the answer leaves (app/services/disclosures.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from app.domain.filters import Condition

STUDENT = "student"  # the student's own row: names, class year, school, FERPA flag
TERMS = "terms"
PLANS = "plans"
DPLANS = "dplans"
TASKS = "tasks"
COUNT = "count"  # a count that could identify the student (see `NetidConditions`)


def joined(record_types: Iterable[str]) -> str:
    """The stored form: sorted, comma-separated, each once."""
    return ",".join(sorted(set(record_types)))


@dataclass(frozen=True)
class Recipient:
    """Who receives a disclosure, and through what: `operation` is a route template
    (`GET /api/students/{netid}`) or a GraphQL operation (`query StudentPage`).
    `count_threshold` is k of the count rule (DISCLOSURE_COUNT_THRESHOLD, `NetidConditions`).
    `synchronous_commit` is what a statement writing only its records commits with: None, the
    server's own setting (DISCLOSURE_DURABILITY=flush); "off", flushed by PostgreSQL's WAL
    writer after the commit (`commit`: docs/operations/durability.md)."""

    sub: str
    scopes: str  # space-separated, as granted to the token
    request_id: str
    operation: str
    count_threshold: int = 5
    synchronous_commit: str | None = None


@dataclass(frozen=True)
class NetidConditions:
    """What a count's filter says of netids, for the rule that makes a count a disclosure.

    A count (a connection's `totalCount`, REST's `X-Total-Count`) discloses, as record type
    `count`, the students it could identify: (1) every visible student its filter names by netid
    (`eq`, `in`), wherever in the filter (`not` included: a count without one student, beside
    one with, tells about that student); (2) the visible students a netid prefix of its filter
    matches, when they are at most k; (3) the students it counted, when they are at most k. A
    count over more than k students that names none is an aggregate, and discloses no one."""

    names: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()  # as sent, not yet escaped for LIKE

    @classmethod
    def of(cls, conditions: Iterable[Condition], field: str) -> NetidConditions:
        """The netid conditions on `field` (a student's netid) at any depth of `conditions`."""
        names: set[str] = set()
        prefixes: set[str] = set()
        for cond in conditions:
            if cond.op == "not":
                inner = cls.of(cond.value, field)
                names |= inner.names
                prefixes |= inner.prefixes
            elif cond.field == field and cond.op == "eq":
                names.add(str(cond.value))
            elif cond.field == field and cond.op == "in":
                names.update(str(v) for v in cond.value)
            elif cond.field == field and cond.op == "prefix":
                prefixes.add(str(cond.value))
        return cls(frozenset(names), frozenset(prefixes))


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
