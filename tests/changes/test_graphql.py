"""`changes(after:, first:, filter:)`: the REST feed's entries as a connection."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Disclosure
from tests.changes.helpers import PRIVATE_READER, READER, app_client, feed, load
from tests.domain.test_load_format import STUDENT, changed, document
from tests.graphql_client import gql, gql_data

CHANGES = """query Feed($after: String, $first: Int, $filter: ChangeFilter) {
  changes(after: $after, first: $first, filter: $filter) {
    edges { cursor node { position committedAt kind key netid op source record } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""


@pytest.fixture
async def client(app):
    async for c in app_client(app):
        yield c


async def changes(client, headers, **variables):
    data = await gql_data(client, CHANGES, headers, variables)
    return data["changes"]


class TestChanges:
    async def test_the_entries_rest_answers_as_a_connection(self, sessions, client, auth):
        await load(sessions, document())
        rest, _ = await feed(client, auth(*READER))
        page = await changes(client, auth(*READER), first=3)
        nodes = [e["node"] for e in page["edges"]]
        assert [n["position"] for n in nodes] == [str(e["position"]) for e in rest[:3]]
        assert [n["record"] for n in nodes] == [e["record"] for e in rest[:3]]
        assert nodes[0]["kind"] == "STUDENT" and nodes[0]["op"] == "INSERT"
        assert nodes[0]["committedAt"] == rest[0]["committed_at"]
        assert page["pageInfo"]["hasNextPage"] is True
        assert page["totalCount"] == 4
        after = page["pageInfo"]["endCursor"]
        rest_page = await changes(client, auth(*READER), after=after, first=3)
        assert [e["node"]["kind"] for e in rest_page["edges"]] == ["DPLAN"]
        assert rest_page["totalCount"] == 1
        end = rest_page["pageInfo"]["endCursor"]
        empty = await changes(client, auth(*READER), after=end)
        assert empty["edges"] == [] and empty["pageInfo"]["endCursor"] == end
        by_position = await changes(client, auth(*READER), after=nodes[2]["position"])
        assert [e["node"]["kind"] for e in by_position["edges"]] == ["DPLAN"]

    async def test_filter_and_hidden_students(self, sessions, client, auth):
        hidden = changed(STUDENT, netid="f000hid", ferpa_protected=True)
        await load(sessions, document(students=[STUDENT, hidden]))
        seen = await changes(client, auth(*READER), first=100)
        assert "f000hid" not in {e["node"]["netid"] for e in seen["edges"]}
        everything = await changes(client, auth(*PRIVATE_READER), first=100)
        assert seen["pageInfo"]["endCursor"] == everything["pageInfo"]["endCursor"]
        mine = await changes(client, auth(*PRIVATE_READER), filter={"netid": "f000hid"})
        assert [e["node"]["key"] for e in mine["edges"]] == ["f000hid"]
        none = await changes(client, auth(*READER), filter={"netid": "f000hid"})
        assert none["edges"] == [] and none["totalCount"] == 0
        plans = await changes(client, auth(*READER), filter={"kind": "PLAN"})
        assert [e["node"]["kind"] for e in plans["edges"]] == ["PLAN"]

    async def test_shown_entries_are_disclosed(self, sessions, session, client, auth):
        await load(sessions, document())
        await changes(client, auth(*READER, sub="advising"), filter={"kind": "TERM"})
        rows = await session.execute(select(Disclosure).where(Disclosure.sub == "advising"))
        records = rows.scalars().all()
        assert [(r.netids, r.record_types) for r in records] == [(["f000abc"], "terms")]

    @pytest.mark.parametrize(
        ("variables", "loc"),
        [({"first": 0}, "first"), ({"first": 101}, "first"), ({"after": "bm9wZTox"}, "after")],
    )
    async def test_bad_arguments_are_named(self, client, auth, variables, loc):
        body = await gql(client, CHANGES, auth(*READER), variables)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body

    async def test_without_the_scope_forbidden(self, client, auth):
        body = await gql(client, CHANGES, auth("urn:dartmouth:students:write.sensitive"))
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
