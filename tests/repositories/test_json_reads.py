"""JsonReads, called directly: the JSON text the database builds for GraphQL root fields
(`data`) and the REST compat reads (`one`, `first_page`, `later_page`), compared with what
orjson reads from it; FERPA visibility decided inside the one statement."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from app.domain.filters import Condition
from app.errors import Invalid
from app.repositories.json_reads import JsonReads, Listing, Pick, RootQuery, Unplannable
from app.repositories.json_reads.rest import PLAN, STUDENT, TERM, TERM_OFFSET
from tests.factories import make_dplan, make_plan, make_student, make_term

NOW = datetime(2018, 1, 10, tzinfo=UTC)  # in Winter 2018 (201801)
ADA, GRACE, HIDDEN = "f000001", "f000002", "f000hid"
UPDATED = datetime(2021, 1, 29, 23, 7, 2, tzinfo=UTC)
TERMS_NOT_HIDDEN = (
    "app/repositories/json_reads/rest.py Listing.rows: a `terms` collection's rows are not "
    "filtered by the student's visibility (only `found` is), unlike student_plans' rows"
)


def picks(*names: str, **nested: tuple[Pick, ...]) -> tuple[Pick, ...]:
    """Picks keyed by their field name; `nested` ones pick sub-fields."""
    flat = tuple(Pick(n, n) for n in names)
    return flat + tuple(Pick(n, n, sub) for n, sub in nested.items())


def global_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def connection_args(first: int, after=None, conditions=()) -> dict:
    return {
        "conditions": list(conditions),
        "first": first,
        "after": after,
        "has_previous": after is not None,
    }


@pytest.fixture
async def reads(session, engine) -> JsonReads:
    await make_student(session, netid=ADA, first_name="Ada", last_name="Lovelace")
    await make_student(
        session,
        netid=GRACE,
        first_name="Grace",
        middle_name="Brewster",
        last_name="Hopper",
        class_year=2021,
        school_code="GR",
    )
    await make_student(session, netid=HIDDEN, first_name="Hid", ferpa_protected=True)
    await make_term(session, ADA, "201803", id="t2")
    await make_term(session, ADA, "201801", id="t1")
    await make_term(session, HIDDEN, "201801", id="t9")
    await make_plan(session, ADA, id=901)
    await make_plan(session, ADA, id=902, type="Minor", department="MATH", parent_id=901)
    await make_plan(session, HIDDEN, id=903)
    await make_dplan(session, ADA, "201801", updated_at=UPDATED)
    await session.commit()
    return JsonReads(engine)


async def data(reads: JsonReads, *queries: RootQuery, include_protected=False) -> dict:
    text = await reads.data(list(queries), include_protected=include_protected, now=NOW)
    return orjson.loads(text)


def student(netid: str, fields: tuple[Pick, ...], key: str = "s") -> RootQuery:
    return RootQuery(key, "student", fields, {"netid": netid})


def plan(plan_id: int | None, fields: tuple[Pick, ...], key: str = "p") -> RootQuery:
    return RootQuery(key, "plan", fields, {"id": plan_id})


EDGES = picks("cursor", node=picks("netid"))
PAGE_INFO = picks("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
ROOTS = {
    "student": student(ADA, picks("netid")),
    "plan": plan(901, picks("planId")),
    "missing plan": plan(None, picks("planId")),
    "students": RootQuery("r", "students", picks("totalCount"), connection_args(1)),
    "plans": RootQuery("r", "plans", picks("totalCount"), connection_args(1)),
    "sisTerms": RootQuery("r", "sisTerms", picks("id"), {"conditions": []}),
    "dplanCodes": RootQuery("r", "dplanCodes", picks("id", "description")),
    "dplanSources": RootQuery("r", "dplanSources", picks("id", "description")),
    "__typename": RootQuery("r", "__typename"),
    "null": RootQuery("r", "null"),
}


class TestDataSmoke:
    @pytest.mark.parametrize("kind", sorted(ROOTS))
    async def test_each_root_kind_is_the_json_orjson_writes(self, reads, kind):
        text = await reads.data([ROOTS[kind]], include_protected=False, now=NOW)
        value = orjson.loads(text)
        assert list(value) == [ROOTS[kind].key]
        assert text.encode() == orjson.dumps(value)

    async def test_no_roots(self, reads):
        assert await reads.data([], include_protected=False, now=NOW) == "{}"

    async def test_roots_in_their_order_in_one_object(self, reads):
        queries = [RootQuery("z", "__typename"), student(ADA, picks("netid"), "a")]
        text = await reads.data(queries, include_protected=False, now=NOW)
        assert text == '{"z":"Query","a":{"netid":"f000001"}}'


class TestDataStudent:
    async def test_scalar_fields(self, reads):
        fields = picks("__typename", "id", "netid", "name", "firstName", "middleName")
        fields += picks("lastName", "classYear", "schoolCode", "ferpaProtected")
        answer = await data(reads, student(GRACE, fields))
        assert answer["s"] == {
            "__typename": "Student",
            "id": global_id(f"Student:{GRACE}"),
            "netid": GRACE,
            "name": "Grace Brewster Hopper",
            "firstName": "Grace",
            "middleName": "Brewster",
            "lastName": "Hopper",
            "classYear": 2021,
            "schoolCode": "GR",
            "ferpaProtected": False,
        }

    async def test_name_skips_a_missing_middle_name(self, reads):
        answer = await data(reads, student(ADA, picks("name", "middleName")))
        assert answer["s"] == {"name": "Ada Lovelace", "middleName": None}

    async def test_terms_in_term_order_with_their_references(self, reads):
        term = picks(
            "id",
            "termId",
            "isActive",
            "startDate",
            lmsTerm=picks("id", "name"),
            quarterlyTerm=picks("id", "currentTermOffset"),
            termDescription=picks("id"),
        )
        answer = await data(reads, student(ADA, picks(terms=term)))
        first, second = answer["s"]["terms"]
        assert first == {
            "id": "t1",
            "termId": "201801-U",
            "isActive": True,
            "startDate": "2017-12-16T05:00:00Z",
            "lmsTerm": {"id": "WI18", "name": "Winter Term 2018 (A&S)"},
            "quarterlyTerm": {"id": "201801", "currentTermOffset": 0},
            "termDescription": {"id": "U"},
        }
        assert (second["id"], second["isActive"]) == ("t2", False)
        assert second["quarterlyTerm"]["currentTermOffset"] == 1

    async def test_plans_and_dplans(self, reads):
        dplan = picks("termCode", "dplanId", "dplanDescription", "updatedAt", term=picks("name"))
        answer = await data(reads, student(ADA, picks(plans=picks("planId"), dplans=dplan)))
        assert answer["s"] == {
            "plans": [{"planId": "901"}, {"planId": "902"}],
            "dplans": [
                {
                    "termCode": "201801",
                    "dplanId": "R",
                    "dplanDescription": "Resident",
                    "updatedAt": "2021-01-29T23:07:02Z",
                    "term": {"name": "Winter Term 2018"},
                }
            ],
        }

    async def test_a_protected_student_is_null_like_an_unknown_one(self, reads):
        queries = (student(HIDDEN, picks("netid"), "h"), student("f999999", picks("netid"), "u"))
        assert await data(reads, *queries) == {"h": None, "u": None}
        shown = await data(reads, *queries, include_protected=True)
        assert shown == {"h": {"netid": HIDDEN}, "u": None}

    async def test_text_is_escaped_as_orjson_escapes_it(self, reads, session):
        tricky = 'Zoë "Q" \\ \n\t\x01 é 😀 </script>'
        await make_student(session, netid="f000zzz", first_name=tricky, last_name="X")
        await session.commit()
        text = await reads.data(
            [student("f000zzz", picks("firstName"))], include_protected=False, now=NOW
        )
        assert text.encode() == orjson.dumps({"s": {"firstName": tricky}})


class TestDataPlan:
    async def test_fields_and_relations(self, reads):
        fields = picks("id", "planId", "type", "parentId", "updated", "updatedAt", "department")
        fields += picks(parent=picks("planId"), children=picks("planId"), student=picks("netid"))
        answer = await data(reads, plan(902, fields), plan(901, picks(parent=picks("planId")), "q"))
        assert answer["p"] == {
            "id": global_id("AcademicPlan:902"),
            "planId": "902",
            "type": "Minor",
            "parentId": 901,
            "updated": False,
            "updatedAt": "2021-01-29T23:07:02Z",
            "department": "MATH",
            "parent": {"planId": "901"},
            "children": [],
            "student": {"netid": ADA},
        }
        assert answer["q"] == {"parent": None}

    async def test_a_protected_students_plan_is_null(self, reads):
        assert await data(reads, plan(903, picks("planId"))) == {"p": None}
        shown = await data(reads, plan(903, picks("planId")), include_protected=True)
        assert shown == {"p": {"planId": "903"}}


class TestDataConnections:
    async def test_a_first_page_of_students(self, reads):
        fields = picks("totalCount", edges=EDGES, pageInfo=PAGE_INFO)
        answer = await data(reads, RootQuery("c", "students", fields, connection_args(1)))
        assert answer["c"] == {
            "totalCount": 2,
            "edges": [{"cursor": cursor(f"student:{ADA}"), "node": {"netid": ADA}}],
            "pageInfo": {
                "hasNextPage": True,
                "hasPreviousPage": False,
                "startCursor": cursor(f"student:{ADA}"),
                "endCursor": cursor(f"student:{ADA}"),
            },
        }

    async def test_a_page_after_a_key(self, reads):
        fields = picks(edges=EDGES, pageInfo=PAGE_INFO)
        query = RootQuery("c", "students", fields, connection_args(5, after=ADA))
        page = (await data(reads, query, include_protected=True))["c"]
        assert [e["node"]["netid"] for e in page["edges"]] == [GRACE, HIDDEN]
        assert page["pageInfo"]["hasNextPage"] is False
        assert page["pageInfo"]["hasPreviousPage"] is True

    async def test_an_empty_page(self, reads):
        fields = picks(edges=EDGES, pageInfo=PAGE_INFO)
        page = (await data(reads, RootQuery("c", "students", fields, connection_args(0))))["c"]
        assert page["edges"] == []
        assert page["pageInfo"]["hasNextPage"] is True
        assert page["pageInfo"]["startCursor"] is None

    async def test_plans_filtered_and_hidden(self, reads):
        fields = picks("totalCount", edges=picks(node=picks("planId")))
        econ = [Condition("department", "eq", "ECON")]
        query = RootQuery("c", "plans", fields, connection_args(5, conditions=econ))
        assert (await data(reads, query))["c"] == {
            "totalCount": 1,
            "edges": [{"node": {"planId": "901"}}],
        }
        shown = (await data(reads, query, include_protected=True))["c"]
        assert shown["totalCount"] == 2

    async def test_students_by_name(self, reads):
        fields = picks(edges=picks(node=picks("netid")))
        named = [Condition("name", "prefix", "HOP")]
        query = RootQuery("c", "students", fields, connection_args(5, conditions=named))
        assert (await data(reads, query))["c"] == {"edges": [{"node": {"netid": GRACE}}]}

    async def test_a_value_that_does_not_fit_is_invalid(self, reads):
        bad = [Condition("class_year", "eq", "soon")]
        query = RootQuery("c", "students", picks("totalCount"), connection_args(1, None, bad))
        with pytest.raises(Invalid) as caught:
            await data(reads, query)
        assert [p.loc for p in caught.value.problems] == ["class_year"]


class TestDataReferenceRoots:
    async def test_sis_terms_with_offsets(self, reads):
        year = {"conditions": [Condition("year", "eq", 2018)]}
        query = RootQuery("t", "sisTerms", picks("id", "currentTermOffset", "endDate"), year)
        terms = (await data(reads, query))["t"]
        assert [(t["id"], t["currentTermOffset"]) for t in terms] == [
            ("201801", 0),
            ("201803", 1),
            ("201806", 2),
            ("201809", 3),
        ]
        assert terms[0]["endDate"] == "2018-03-15T04:00:00Z"

    async def test_sis_terms_by_offset(self, reads):
        near = [Condition("current_term_offset", "in", [-1, 1])]
        query = RootQuery("t", "sisTerms", picks("id"), {"conditions": near})
        assert (await data(reads, query))["t"] == [{"id": "201709"}, {"id": "201803"}]

    async def test_outside_the_calendar_no_term_is_current(self, reads):
        query = RootQuery("t", "sisTerms", picks("currentTermOffset"), {"conditions": []})
        later = datetime(2099, 1, 1, tzinfo=UTC)
        terms = orjson.loads(await reads.data([query], include_protected=False, now=later))["t"]
        assert {t["currentTermOffset"] for t in terms} == {None}

    async def test_value_lists(self, reads):
        codes = RootQuery("c", "dplanCodes", picks("__typename", "id", "description"))
        sources = RootQuery("s", "dplanSources", picks("id"))
        answer = await data(reads, codes, sources)
        assert answer["c"][0] == {"__typename": "DplanCode", "id": "L", "description": "Leave Term"}
        assert [s["id"] for s in answer["s"]] == ["DEA", "OCP", "PHL", "STU"]


class TestDataUnplannable:
    async def test_an_unknown_root(self, reads):
        with pytest.raises(Unplannable, match=r"Query\.teachers"):
            await data(reads, RootQuery("t", "teachers"))

    async def test_an_unknown_field(self, reads):
        with pytest.raises(Unplannable, match=r"Student\.shoeSize"):
            await data(reads, student(ADA, picks("shoeSize")))


class TestOne:
    async def test_a_student_in_its_rest_shape(self, reads):
        body = await reads.one("student", ADA, include_protected=False, now=NOW)
        value = orjson.loads(body)
        assert list(value) == [p.key for p in STUDENT]
        assert (value["name"], value["middle_name"], value["ferpa_protected"]) == (
            "Ada Lovelace",
            None,
            False,
        )
        assert value["dplans"] == [
            {
                "dplan_description": "Resident",
                "dplan_source_id": "PHL",
                "dplan_id": "R",
                "dplan_source_description": "Registrar Action",
                "term_code": "201801",
            }
        ]

    async def test_a_plan_in_its_rest_shape(self, reads):
        value = orjson.loads(await reads.one("plan", 902, include_protected=False, now=NOW))
        assert list(value) == [p.key for p in PLAN]
        assert (value["id"], value["parent_id"]) == ("902", 901)
        assert (value["updated"], value["dropped"]) == ("N", "N")  # REST flags
        assert value["updated_at"] == "2021-01-29T23:07:02Z"

    @pytest.mark.parametrize(("what", "key"), [("student", HIDDEN), ("plan", 903)])
    async def test_hidden_is_none_like_unknown(self, reads, what, key):
        assert await reads.one(what, key, include_protected=False, now=NOW) is None
        assert await reads.one(what, key, include_protected=True, now=NOW) is not None
        unknown = "f999999" if what == "student" else 999
        assert await reads.one(what, unknown, include_protected=True, now=NOW) is None


async def first(reads, kind, netid, conditions=(), *, pagesize=10, include_protected=False):
    return await reads.first_page(
        Listing(kind),
        netid,
        list(conditions),
        pagesize=pagesize,
        include_protected=include_protected,
        now=NOW,
    )


class TestFirstPage:
    async def test_a_students_terms(self, reads):
        page = await first(reads, "terms", ADA)
        assert (page.found, page.total, page.keys) == (True, 2, None)  # one page: no keys
        terms = orjson.loads(page.body)
        assert [t["id"] for t in terms] == ["t1", "t2"]
        assert list(terms[0]) == [p.key for p in TERM]
        assert terms[0]["quarterly_term"]["current_term_offset"] == 0
        assert (terms[0]["is_active"], terms[1]["is_active"]) == (True, False)

    async def test_past_one_page_every_key_in_order(self, reads):
        page = await first(reads, "terms", ADA, pagesize=1)
        assert (page.total, page.keys) == (2, ["t1", "t2"])
        assert [t["id"] for t in orjson.loads(page.body)] == ["t1"]

    async def test_a_hidden_students_collection_is_not_found(self, reads):
        assert (await first(reads, "terms", HIDDEN)).found is False
        plans = await first(reads, "student_plans", HIDDEN)
        assert (plans.found, plans.total, orjson.loads(plans.body)) == (False, 0, [])
        shown = await first(reads, "terms", HIDDEN, include_protected=True)
        assert (shown.found, shown.total) == (True, 1)

    async def test_a_hidden_students_terms_are_absent_too(self, reads):
        page = await first(reads, "terms", HIDDEN)
        assert (page.total, orjson.loads(page.body)) == (0, [])

    async def test_all_plans_without_a_hidden_students(self, reads):
        page = await first(reads, "plans", None, pagesize=1)
        assert (page.found, page.total, page.keys) == (True, 2, [901, 902])
        assert orjson.loads(page.body)[0]["id"] == "901"

    async def test_a_students_plans_filtered(self, reads):
        page = await first(reads, "student_plans", ADA, [Condition("type", "eq", "Minor")])
        assert [p["id"] for p in orjson.loads(page.body)] == ["902"]

    async def test_terms_by_computed_fields(self, reads):
        active = await first(reads, "terms", ADA, [Condition("is_active", "eq", "Y")])
        assert [t["id"] for t in orjson.loads(active.body)] == ["t1"]
        ahead = await first(reads, "terms", ADA, [Condition(TERM_OFFSET, "gte", 1)])
        assert [t["id"] for t in orjson.loads(ahead.body)] == ["t2"]

    async def test_an_id_prefix_compares_digits_as_text_like_plan_repository(self, reads):
        page = await first(reads, "plans", None, [Condition("id", "prefix", "90")])
        assert page.total == 2

    async def test_values_that_do_not_fit_are_invalid(self, reads):
        with pytest.raises(Invalid) as caught:
            await first(reads, "plans", None, [Condition("id", "eq", "x")])
        assert [p.loc for p in caught.value.problems] == ["id"]


class TestLaterPage:
    async def test_the_rows_of_the_keys_in_order(self, reads):
        found, body = await reads.later_page(
            Listing("terms"), ADA, ["t2", "t1"], include_protected=False, now=NOW
        )
        assert found is True
        assert [t["id"] for t in orjson.loads(body)] == ["t1", "t2"]

    async def test_keys_no_longer_visible_are_left_out(self, reads):
        found, body = await reads.later_page(
            Listing("plans"), None, [902, 903, 999], include_protected=False, now=NOW
        )
        assert found is True
        assert [p["id"] for p in orjson.loads(body)] == ["902"]

    async def test_a_hidden_students_collection_is_not_found(self, reads):
        found, body = await reads.later_page(
            Listing("student_plans"), HIDDEN, [903], include_protected=False, now=NOW
        )
        assert (found, orjson.loads(body)) == (False, [])
        found, _body = await reads.later_page(
            Listing("terms"), HIDDEN, ["t9"], include_protected=False, now=NOW
        )
        assert found is False

    async def test_a_hidden_students_terms_are_absent_too(self, reads):
        _found, body = await reads.later_page(
            Listing("terms"), HIDDEN, ["t9"], include_protected=False, now=NOW
        )
        assert orjson.loads(body) == []
