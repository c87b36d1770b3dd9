"""The per-process table of cut-off service accounts: a dict lookup per request, one read of the
database per staleness however many requests find it stale at once, people never looked up."""

from __future__ import annotations

import asyncio
import math

import pytest

from app.auth.cutoffs import Cutoffs
from app.auth.principal import Principal
from app.errors import DatabaseUnavailable, Unauthenticated


def _principal(sub: str, iat: object = 1000) -> Principal:
    return Principal(sub=sub, scopes=frozenset(), claims={"sub": sub, "iat": iat})


class _Loads:
    def __init__(self, table: dict[str, float]) -> None:
        self.table, self.count = table, 0

    async def __call__(self) -> dict[str, float]:
        self.count += 1
        await asyncio.sleep(0)  # others find the table stale meanwhile
        return dict(self.table)


async def test_concurrent_requests_on_a_stale_table_read_it_once():
    loads = _Loads({})
    cutoffs = Cutoffs(60, loads)
    await asyncio.gather(*(cutoffs.check(_principal("svc:tool")) for _ in range(50)))
    assert loads.count == 1 and cutoffs.refreshes == 1
    for _ in range(50):
        await cutoffs.check(_principal("svc:tool"))
    assert loads.count == 1  # fresh: no read per request


async def test_people_are_never_looked_up():
    loads = _Loads({"f003ghc": math.inf})
    cutoffs = Cutoffs(60, loads)
    await cutoffs.check(_principal("f003ghc"))
    assert loads.count == 0


@pytest.mark.parametrize(
    ("cutoff", "iat", "refused"),
    [
        (1000.5, 1000, True),  # issued before
        (1000.5, 1001, False),  # issued after
        (1000.0, 1000, True),  # in the same second: refused too
        (math.inf, 10**12, True),  # disabled
        (1000.5, None, True),  # no iat: cannot be shown to be after
        (1000.5, "2000", True),
    ],
)
async def test_tokens_issued_by_the_cutoff_are_refused(cutoff, iat, refused):
    cutoffs = Cutoffs(60, _Loads({"tool": cutoff}))
    check = cutoffs.check(_principal("svc:tool", iat))
    if refused:
        with pytest.raises(Unauthenticated):
            await check
    else:
        await check
    await Cutoffs(60, _Loads({"other": cutoff})).check(_principal("svc:tool", iat))


async def test_a_table_that_cannot_be_read_refuses_with_a_503():
    async def down() -> dict[str, float]:
        raise ConnectionRefusedError("down")

    with pytest.raises(DatabaseUnavailable):
        await Cutoffs(60, down).check(_principal("svc:tool"))
