"""Memory one caller can make the process hold (issue 19, finding 1): every in-process cache is
bounded by entries and bytes, and /metrics says what each holds. A query with 30 Boolean
`@include` variables sent with ever-new values once grew the process ~200 KB a request (the
planner remembered a selection per combination, and a statement per selection)."""

from __future__ import annotations

import random

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.auth.scopes import ALL_SCOPES
from app.main import create_app
from tests.conftest import bearer
from tests.factories import make_plan, make_student
from tests.hostile.stalls import loop_prober

PLAN_FIELDS = "planId type state name"
VARIABLES = 30
# Twice what the statements' cache holds: it reaches its byte bound after about 1,000 of them (a
# selection's statement is ~17 KB of its 16 MiB), and the other half are evictions (asserted).
# 10,000 once (five times the time, on each database) proved nothing 2,000 does not.
COMBINATIONS = 2_000
# Every cache the process holds (app/caches.py), as /metrics names them.
CACHES = {
    "graphql_documents",
    "graphql_planner",
    "graphql_costs",
    "graphql_cost_variables",
    "graphql_persisted",
    "planned_statements",
    "rest_first_page_statements",
    "rest_statements",
    "rest_found_set_statements",
    "change_record_statements",
}


def _hostile_query() -> str:
    """30 Boolean variables, each including a list of plans with their parents: 2^30
    selections of one operation, each its own statement (about 8 KB of SQL)."""
    declared = ", ".join(f"$b{i}: Boolean!" for i in range(VARIABLES))
    included = " ".join(f"a{i}: plans @include(if: $b{i}) {{ ...P }}" for i in range(VARIABLES))
    return (
        f'query Hostile({declared}) {{ student(netid: "f00mem1") {{ netid {included} }} }} '
        f"fragment P on AcademicPlan {{ {PLAN_FIELDS} parent {{ {PLAN_FIELDS} }} }}"
    )


def _combinations(count: int) -> list[dict[str, bool]]:
    chosen = random.Random(19).sample(range(2**VARIABLES), count)
    return [{f"b{i}": bool(bits >> i & 1) for i in range(VARIABLES)} for bits in chosen]


def _caches(exposition: str) -> dict[str, dict[str, float]]:
    """{cache: {"entries": ..., "bytes": ..., "max_entries": ..., "max_bytes": ...}}"""
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(exposition):
        what = family.name.removeprefix("studentgraph_cache_")
        if what == family.name or what == "evictions":
            continue
        for sample in family.samples:
            found.setdefault(sample.labels["cache"], {})[what] = sample.value
    return found


def _evictions(exposition: str) -> dict[str, float]:
    return {
        sample.labels["cache"]: sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "studentgraph_cache_evictions"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


@pytest.mark.slow
async def test_2000_directive_combinations_leave_every_cache_within_its_bounds(
    settings, clock, session
):
    await make_student(session, netid="f00mem1")
    await make_plan(session, "f00mem1", id=190001)
    await session.commit()
    app = create_app(settings, clock=clock)
    headers = bearer(settings, *ALL_SCOPES)
    query = _hostile_query()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        planner = app.state.graphql_planner
        warm_up, *hostile = _combinations(1 + COMBINATIONS)
        # A process's first operation pays once for what is first used then (~0.1 s here).
        body = {"query": query, "variables": warm_up}
        assert (await client.post("/graphql", json=body, headers=headers)).status_code == 200
        async with loop_prober(client) as prober:
            for variables in hostile:
                body = {"query": query, "variables": variables}
                answer = await client.post("/graphql", json=body, headers=headers)
                assert answer.status_code == 200, answer.text
                assert "errors" not in answer.json(), answer.text
        exposition = (await client.get("/metrics")).text
    prober.assert_no_stall()
    assert planner.answered == 1 + COMBINATIONS  # every one planned: the path that grew
    caches = _caches(exposition)
    # every cache the app keeps is exposed (a process that also ran tests/test_caches.py under
    # xdist exposes that file's caches too: the registry is the process's)
    assert caches.keys() >= CACHES
    for name, held in caches.items():
        assert 0 <= held["entries"] <= held["max_entries"], (name, held)
        assert 0 <= held["bytes"] <= held["max_bytes"], (name, held)
    # The combinations reached the caches they grew: the planner holds the one operation, and
    # the statements (one per selection) fill their cache up to its byte bound, reached before
    # its entry bound.
    assert caches["graphql_planner"]["entries"] >= 1
    statements = caches["planned_statements"]
    assert statements["bytes"] > 0.9 * statements["max_bytes"], statements
    assert statements["entries"] < statements["max_entries"], statements
    # ... and past it, the least recently used made room (the bound held while it grew on).
    evicted = _evictions(exposition).get("planned_statements", 0)
    assert evicted >= COMBINATIONS / 4, (evicted, statements)  # ~1,000 here
