"""Connections: `orderBy`, backward paging (`last`/`before`), `not`/`isNull` filters, on the
resolvers (the planner leaves these arguments to them: checked here too)."""

from __future__ import annotations

import pytest

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from tests.graphql.planner_world import build_world
from tests.graphql_client import gql, gql_data

PAGE = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
STUDENT = "edges { cursor node { netid firstName lastName classYear schoolCode } }"


@pytest.fixture
async def world(session):
    return await build_world(session)


async def _all(client, headers, root: str, node_key: str = "netid") -> list[str]:
    data = await gql_data(client, f"{{ {root} {{ edges {{ node {{ {node_key} }} }} }} }}", headers)
    name = root.split("(")[0]
    return [e["node"][node_key] for e in data[name]["edges"]]


async def _walk(client, headers, args: str, *, backward: bool, size: int = 2):
    """Every page of `students(args)`, `size` at a time, forwards or backwards; the netids in
    list order, and the page infos."""
    netids: list[str] = []
    infos = []
    cursor = None
    while True:
        paging = f"last: {size}" if backward else f"first: {size}"
        if cursor:
            paging += f', {"before" if backward else "after"}: "{cursor}"'
        query = f"{{ students({args} {paging}) {{ {STUDENT} {PAGE} }} }}"
        page = (await gql_data(client, query, headers))["students"]
        found = [e["node"]["netid"] for e in page["edges"]]
        netids = found + netids if backward else netids + found
        infos.append(page["pageInfo"])
        more = page["pageInfo"]["hasPreviousPage" if backward else "hasNextPage"]
        if not more:
            return netids, infos
        cursor = page["pageInfo"]["startCursor" if backward else "endCursor"]


class TestBackwards:
    async def test_last_and_before_page_back_through_the_whole_list(self, client, auth, world):
        headers = auth(STUDENTS_READ, PEOPLE_PRIVATE)
        forwards = await _all(client, headers, "students(first: 100)")
        backwards, infos = await _walk(client, headers, "", backward=True)
        assert backwards == forwards and len(forwards) == 9
        # Relay: the first backward page (no `before`) has nothing after it; later ones do.
        assert infos[0]["hasNextPage"] is False and infos[0]["hasPreviousPage"] is True
        assert all(i["hasNextPage"] for i in infos[1:])
        assert infos[-1]["hasPreviousPage"] is False

    async def test_last_alone_is_the_end_of_the_list(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        everyone = await _all(client, headers, "students(first: 100)")
        data = await gql_data(client, f"{{ students(last: 2) {{ {STUDENT} {PAGE} }} }}", headers)
        assert [e["node"]["netid"] for e in data["students"]["edges"]] == everyone[-2:]

    async def test_after_and_before_bound_a_window(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        page = await gql_data(client, f"{{ students(first: 100) {{ {STUDENT} }} }}", headers)
        cursors = [e["cursor"] for e in page["students"]["edges"]]
        bounds = f'after: "{cursors[0]}", before: "{cursors[4]}"'
        query = f"{{ students({bounds}, last: 10) {{ {STUDENT} {PAGE} }} }}"
        window = (await gql_data(client, query, headers))["students"]
        assert [e["cursor"] for e in window["edges"]] == cursors[1:4]
        assert window["pageInfo"]["hasPreviousPage"] is False  # nothing more within the window
        assert window["pageInfo"]["hasNextPage"] is True

    async def test_first_and_last_together_are_refused(self, client, auth, world):
        body = await gql(client, "{ students(first: 2, last: 2) { totalCount } }", auth())
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["problems"][0]["loc"] == "last"

    async def test_last_out_of_range_names_last(self, client, auth, world):
        body = await gql(client, "{ plans(last: 101) { totalCount } }", auth())
        assert body["errors"][0]["extensions"]["problems"][0]["loc"] == "last"

    async def test_a_bad_before_names_before(self, client, auth, world):
        body = await gql(client, '{ plans(before: "nope") { totalCount } }', auth())
        assert body["errors"][0]["extensions"]["problems"][0]["loc"] == "before"


class TestOrderBy:
    async def test_by_last_name_pages_in_a_total_order(self, client, auth, world):
        headers = auth(STUDENTS_READ, PEOPLE_PRIVATE)
        query = f"{{ students(first: 100) {{ {STUDENT} }} }}"
        people = [e["node"] for e in (await gql_data(client, query, headers))["students"]["edges"]]
        expected = [
            p["netid"]
            for p in sorted(people, key=lambda p: (p["lastName"], p["firstName"], p["netid"]))
        ]
        assert expected != [p["netid"] for p in people]  # the order is not the key order
        forwards, _ = await _walk(client, headers, "orderBy: LAST_NAME_ASC,", backward=False)
        backwards, _ = await _walk(client, headers, "orderBy: LAST_NAME_ASC,", backward=True)
        descending, _ = await _walk(client, headers, "orderBy: LAST_NAME_DESC,", backward=False)
        assert forwards == expected == backwards
        assert descending == expected[::-1]

    async def test_netid_descending(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        ascending = await _all(client, headers, "students(first: 100)")
        descending, _ = await _walk(client, headers, "orderBy: NETID_DESC,", backward=False)
        assert descending == ascending[::-1]

    async def test_plans_by_student(self, client, auth, world):
        headers = auth(STUDENTS_READ, PEOPLE_PRIVATE)
        fields = "edges { cursor node { planId studentNetid } }"
        query = f"{{ plans(first: 100) {{ {fields} }} }}"
        plans = [e["node"] for e in (await gql_data(client, query, headers))["plans"]["edges"]]
        expected = sorted(plans, key=lambda p: (p["studentNetid"], int(p["planId"])), reverse=True)
        ordered = []
        cursor = None
        while True:
            after = f', after: "{cursor}"' if cursor else ""
            query = (
                f"{{ plans(orderBy: STUDENT_NETID_DESC, first: 2{after}) {{ {fields} {PAGE} }} }}"
            )
            page = (await gql_data(client, query, headers))["plans"]
            ordered += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            cursor = page["pageInfo"]["endCursor"]
        assert ordered == expected

    async def test_a_cursor_of_another_order_is_refused(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        query = "{ students(first: 1) { pageInfo { endCursor } } }"
        key_cursor = (await gql_data(client, query, headers))["students"]["pageInfo"]["endCursor"]
        body = await gql(
            client,
            f'{{ students(orderBy: LAST_NAME_ASC, after: "{key_cursor}") {{ totalCount }} }}',
            headers,
        )
        assert body["errors"][0]["extensions"]["problems"][0]["loc"] == "after"

    @pytest.mark.parametrize("plan_id", [2**63, -1])
    async def test_a_cursor_whose_plan_id_is_no_plan_id_is_refused(
        self, client, auth, world, plan_id
    ):
        # Decodable and well-typed, but past a BIGINT (or negative): refused, never sent to the
        # database (2**63 reached it and failed there, a masked 500).
        from app.graphql.types.connections import encode_cursor

        cursor = encode_cursor("plan.student_netid", f'["f000abc",{plan_id}]')
        body = await gql(
            client,
            f'{{ plans(orderBy: STUDENT_NETID_ASC, after: "{cursor}") {{ totalCount }} }}',
            auth(STUDENTS_READ),
        )
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["problems"][0]["loc"] == "after"


class TestNotAndIsNull:
    async def test_is_null(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        nulls = await _all(client, headers, "students(filter: {schoolCode: {isNull: true}})")
        assert nulls == ["w000005"]
        no_year = await _all(client, headers, "students(filter: {classYear: {isNull: true}})")
        assert no_year == ["w000003"]
        everyone = await _all(client, headers, "students(first: 100)")
        has_year = await _all(
            client, headers, "students(first: 100, filter: {classYear: {isNull: false}})"
        )
        assert has_year == [n for n in everyone if n != "w000003"]

    async def test_not_keeps_rows_it_cannot_judge(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        everyone = await _all(client, headers, "students(first: 100)")
        ug = await _all(client, headers, 'students(first: 100, filter: {schoolCode: {eq: "UG"}})')
        others = await _all(
            client, headers, 'students(first: 100, filter: {not: {schoolCode: {eq: "UG"}}})'
        )
        assert "w000005" in others  # no school: not UG
        assert sorted(ug + others) == sorted(everyone) and not set(ug) & set(others)

    async def test_not_with_a_name_and_nested(self, client, auth, world):
        headers = auth(STUDENTS_READ)
        everyone = await _all(client, headers, "students(first: 100)")
        no_lovelace = await _all(
            client, headers, 'students(first: 100, filter: {not: {name: {startsWith: "love"}}})'
        )
        assert no_lovelace == [n for n in everyone if n != "w000001"]
        twice = await _all(
            client,
            headers,
            'students(first: 100, filter: {not: {not: {name: {startsWith: "love"}}}})',
        )
        assert twice == ["w000001"]

    async def test_plans_without_a_department(self, client, auth, world):
        headers = auth(STUDENTS_READ, PEOPLE_PRIVATE)
        found = await _all(
            client, headers, "plans(filter: {department: {isNull: true}})", node_key="planId"
        )
        assert found == sorted([str(world.plan_ids[3]), str(world.hidden_plan_ids[0])], key=int)


class TestThePlannerDeclines:
    @pytest.mark.parametrize(
        "arguments",
        [
            "orderBy: LAST_NAME_ASC",
            "orderBy: NETID_ASC",
            "last: 2",
            'before: "c3R1ZGVudDp3MDAwMDA1"',
            "filter: {classYear: {isNull: false}}",
            'filter: {not: {netid: {eq: "w000001"}}}',
        ],
    )
    async def test_new_arguments_go_to_the_resolvers(self, app, client, auth, world, arguments):
        planner = app.state.graphql_planner
        before = planner.answered
        query = f"{{ students({arguments}) {{ totalCount {STUDENT} {PAGE} }} }}"
        await gql_data(client, query, auth())
        assert planner.answered == before
        await gql_data(client, f"{{ students(first: 2) {{ {STUDENT} }} }}", auth())
        assert planner.answered == before + 1  # a document without them is still planned
