"""REST and GraphQL show the same computed fields: one calendar, one clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import make_student, make_term
from tests.graphql_client import gql_data

QUERY = """{ student(netid: "f000abc") { terms { id isActive
             quarterlyTerm { currentTermOffset } } } }"""


@pytest.mark.parametrize(
    "when",
    [
        datetime(2019, 7, 1, 12, tzinfo=UTC),
        datetime(2018, 3, 15, 3, 59, 59, tzinfo=UTC),  # the last second of Winter 2018
        datetime(2018, 3, 15, 4, 0, 0, tzinfo=UTC),  # the first of Spring 2018
        datetime(2150, 1, 1, tzinfo=UTC),  # no term is current
    ],
)
async def test_rest_and_graphql_agree(client, session, auth, clock, when):
    await make_student(session, netid="f000abc")
    for term in ("201709", "201801", "201803", "201906"):
        await make_term(session, "f000abc", term)
    await session.commit()
    clock.set(when)
    rest = (await client.get("/api/students/f000abc/terms", headers=auth())).json()
    graphql = (await gql_data(client, QUERY, auth()))["student"]["terms"]
    assert {
        t["id"]: (t["is_active"], t["quarterly_term"]["current_term_offset"]) for t in rest
    } == {t["id"]: (t["isActive"], t["quarterlyTerm"]["currentTermOffset"]) for t in graphql}
    assert len(rest) == 4
