"""Student reads through /graphql: fields, nesting, computed fields, paging."""

from __future__ import annotations

from tests.factories import make_dplan, make_plan, make_student, make_term
from tests.graphql_client import gql, gql_data

STUDENT = """
query($netid: String!) {
  student(netid: $netid) {
    id netid name classYear
    terms { id termId isActive quarterlyTerm { id name startDate endDate currentTermOffset }
            lmsTerm { id name } termDescription { id name } }
    plans { planId name parent { planId } children { planId } student { netid } }
    dplans { termCode dplanId dplanDescription dplanSourceId dplanSourceDescription
             term { id currentTermOffset } }
  }
}
"""


class TestStudent:
    async def test_nested_student(self, client, session, auth):
        await make_student(session, netid="f000abc", first_name="Ada", last_name="Lovelace")
        await make_term(session, "f000abc", "201801")
        await make_term(session, "f000abc", "201906")
        parent = await make_plan(session, "f000abc", id=20111, type="Modified")
        await make_plan(session, "f000abc", id=20109, parent_id=20111)
        await make_dplan(session, "f000abc", "201909")
        await session.commit()

        data = await gql_data(client, STUDENT, auth(), {"netid": "f000abc"})

        student = data["student"]
        assert student["netid"] == "f000abc"
        assert student["name"] == "Ada Lovelace"
        assert [t["quarterlyTerm"]["currentTermOffset"] for t in student["terms"]] == [-6, 0]
        assert [t["isActive"] for t in student["terms"]] == [False, True]
        assert student["terms"][0]["quarterlyTerm"]["startDate"] == "2017-12-16T05:00:00Z"
        assert student["terms"][0]["quarterlyTerm"]["endDate"] == "2018-03-15T04:00:00Z"
        assert student["terms"][0]["lmsTerm"] == {"id": "WI18", "name": "Winter Term 2018 (A&S)"}
        plans = {p["planId"]: p for p in student["plans"]}
        assert plans["20109"]["parent"] == {"planId": str(parent.id)}
        assert plans["20111"]["children"] == [{"planId": "20109"}]
        assert plans["20111"]["student"] == {"netid": "f000abc"}
        assert student["dplans"] == [
            {
                "termCode": "201909",
                "dplanId": "R",
                "dplanDescription": "Resident",
                "dplanSourceId": "PHL",
                "dplanSourceDescription": "Registrar Action",
                "term": {"id": "201909", "currentTermOffset": 1},
            }
        ]

    async def test_unknown_netid_is_null(self, client, auth):
        data = await gql_data(client, STUDENT, auth(), {"netid": "nobody"})
        assert data == {"student": None}

    async def test_node_round_trip(self, client, session, auth):
        await make_student(session, netid="f000abc")
        await session.commit()
        data = await gql_data(client, STUDENT, auth(), {"netid": "f000abc"})
        node_id = data["student"]["id"]
        node = await gql_data(
            client,
            "query($id: ID!) { node(id: $id) { ... on Student { netid } } }",
            auth(),
            {"id": node_id},
        )
        assert node == {"node": {"netid": "f000abc"}}


class TestStudentsConnection:
    async def test_pages_through_everyone_in_netid_order(self, client, session, auth):
        for i in range(5):
            await make_student(session, netid=f"s{i}")
        await session.commit()
        query = """query($after: String) { students(first: 2, after: $after) {
            totalCount edges { cursor node { netid } } pageInfo { hasNextPage endCursor } } }"""
        seen, after = [], None
        while True:
            page = (await gql_data(client, query, auth(), {"after": after}))["students"]
            assert page["totalCount"] == 5
            seen += [e["node"]["netid"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == ["s0", "s1", "s2", "s3", "s4"]

    async def test_filters(self, client, session, auth):
        await make_student(
            session, netid="a1", first_name="Zed", last_name="Smith", class_year=2024
        )
        await make_student(
            session, netid="a2", first_name="Sam", last_name="Jones", class_year=2025
        )
        await make_student(
            session,
            netid="b1",
            first_name="Amy",
            last_name="Smithers",
            class_year=2025,
            school_code="GR",
        )
        await session.commit()

        async def netids(filter_: str) -> list[str]:
            q = f"{{ students(filter: {filter_}) {{ totalCount edges {{ node {{ netid }} }} }} }}"
            page = (await gql_data(client, q, auth()))["students"]
            assert page["totalCount"] == len(page["edges"])
            return [e["node"]["netid"] for e in page["edges"]]

        assert await netids('{name: {startsWith: "smi"}}') == ["a1", "b1"]
        assert await netids('{name: {startsWith: "SA"}}') == ["a2"]
        assert await netids("{classYear: {gte: 2025}}") == ["a2", "b1"]
        assert await netids('{netid: {startsWith: "a"}, classYear: {eq: 2025}}') == ["a2"]
        assert await netids('{schoolCode: {in: ["GR"]}}') == ["b1"]
        assert await netids('{name: {startsWith: "%"}}') == []

    async def test_page_size_is_capped(self, client, auth):
        body = await gql(client, "{ students(first: 101) { totalCount } }", auth())
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "first" in str(body["errors"][0]["extensions"]["problems"])

    async def test_bad_cursor(self, client, auth):
        body = await gql(client, '{ students(after: "nonsense") { totalCount } }', auth())
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
