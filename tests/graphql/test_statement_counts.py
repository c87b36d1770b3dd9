"""No N+1: the SQL a query runs depends on its shape, never on how many rows it returns."""

from __future__ import annotations

from tests.factories import make_dplan, make_plan, make_student, make_term
from tests.graphql_client import gql_data

NESTED = """query($first: Int!) { students(first: $first) {
  totalCount
  edges { node {
    netid
    terms { termId isActive quarterlyTerm { id currentTermOffset } lmsTerm { id } }
    plans { planId parent { planId } children { planId } }
    dplans { termCode dplanDescription term { currentTermOffset } }
  } } } }"""


async def _students(session, count):
    for i in range(count):
        netid = f"n{i:04d}"
        await make_student(session, netid=netid)
        await make_term(session, netid, "201809")
        await make_term(session, netid, "201901")
        parent = await make_plan(session, netid, type="Modified")
        await make_plan(session, netid, parent_id=parent.id)
        await make_dplan(session, netid, "201903")
    await session.commit()


class TestPlannedReads:
    """A planned root field of any depth runs exactly one statement."""

    async def test_one_statement_whatever_the_rows(
        self, client, session, auth, sql_counter, read_statements
    ):
        await _students(session, 100)
        for first in (5, 100):
            sql_counter.statements.clear()
            data = await gql_data(client, NESTED, auth(), {"first": first})
            edges = data["students"]["edges"]
            assert len(edges) == first
            assert all(len(e["node"]["terms"]) == 2 for e in edges)
            assert all(len(e["node"]["plans"]) == 2 for e in edges)
            assert sql_counter.count == read_statements, sql_counter.statements

    async def test_one_student_fully_nested(
        self, client, session, auth, sql_counter, read_statements
    ):
        await _students(session, 3)
        query = """{ student(netid: "n0001") { terms { id } plans { planId } dplans { termCode } }
                     sisTerms(filter: {currentTermOffset: {gte: -1, lte: 1}}) { id }
                     dplanCodes { id } }"""
        data = await gql_data(client, query, auth())
        assert len(data["student"]["terms"]) == 2
        assert len(data["sisTerms"]) == 3
        assert sql_counter.count == read_statements, sql_counter.statements


class TestDataloaders:
    """With the planner off (or for what it does not plan): one statement per nested field."""

    async def test_constant_in_the_number_of_students(
        self, loaders_client, session, auth, loaders_sql_counter
    ):
        sql_counter = loaders_sql_counter
        await _students(session, 100)
        await gql_data(loaders_client, NESTED, auth(), {"first": 1})  # the current term is kept
        counts = {}
        for first in (5, 100):
            sql_counter.statements.clear()
            data = await gql_data(loaders_client, NESTED, auth(), {"first": first})
            edges = data["students"]["edges"]
            assert len(edges) == first
            assert all(len(e["node"]["terms"]) == 2 for e in edges)
            assert all(len(e["node"]["plans"]) == 2 for e in edges)
            counts[first] = sql_counter.count
        assert counts[5] == counts[100]
        # page + count + one per nested list (terms, plans, dplans) + one per plan relation
        # (parent, children) + the disclosure records
        assert counts[100] == 8, sql_counter.statements

    async def test_one_student_fully_nested(
        self, loaders_client, session, auth, loaders_sql_counter
    ):
        sql_counter = loaders_sql_counter
        await _students(session, 3)
        query = (
            """{ student(netid: "n0001") { terms { id } plans { planId } dplans { termCode } } }"""
        )
        data = await gql_data(loaders_client, query, auth())
        assert len(data["student"]["terms"]) == 2
        # the student, its terms, plans, dplans, (the first time) the current term, and the
        # disclosure records
        assert sql_counter.count <= 6, sql_counter.statements
        sql_counter.statements.clear()
        await gql_data(loaders_client, query, auth())
        assert sql_counter.count == 5, sql_counter.statements
