"""The load file format: every kind of bad input named by list, index and field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from app import models
from app.domain import load_format
from app.domain.demo import SAMPLE_DPLANS, SAMPLE_PLANS, SAMPLE_TERMS, demo_document
from app.domain.load_format import parse_document
from app.domain.load_values import string
from app.rest.examples import PLANS_SAMPLE, TERMS_SAMPLE
from tests.rest.json_compare import assert_same_json
from tests.rest.seed_data import sample_after, seed_text

STUDENT = {
    "netid": "f000abc",
    "first_name": "Avery",
    "middle_name": None,
    "last_name": "Abbott",
    "name": "Avery Abbott",
    "class_year": 2021,
    "school_code": "UG",
    "ferpa_protected": False,
}
TERM = TERMS_SAMPLE[0]
# The modified-major sample, moved to f000abc, with other text fields.
PLAN = {
    **next(p for p in PLANS_SAMPLE if p["id"] == "20111"),
    "student_netid": "f000abc",
    "student_rationale": None,
    "prerequisites": "<p>MATH 3: Pre-College&nbsp;</p>\r\n<p>MATH 10</p>",
    "culminating_experience": "",
}
SEEDS = {n: seed_text(n) for n in ("000", "003", "004")}
DPLAN = {"netid": "f000abc", "term_code": "201801", "dplan_id": "R", "dplan_source_id": "PHL"}


def document(**lists: Any) -> dict[str, Any]:
    base = {"students": [STUDENT], "student_terms": [TERM], "plans": [PLAN], "dplans": [DPLAN]}
    return copy.deepcopy({**base, **lists})


def changed(record: dict[str, Any], **values: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    for key, value in values.items():
        if value is ...:
            del out[key]
        else:
            out[key] = value
    return out


def problems_of(raw: Any) -> list[str]:
    _, problems = parse_document(raw)
    return [f"{p.loc}: {p.message}" for p in problems]


class TestValidDocument:
    def test_rows_in_column_form(self):
        doc, problems = parse_document(document())
        assert problems == []
        assert doc.students[0].values["netid"] == "f000abc"
        assert "name" not in doc.students[0].values  # computed: accepted, ignored
        term = doc.student_terms[0].values
        assert term["quarterly_term_id"] == "201801"
        assert term["lms_term_id"] == "WI18"
        assert term["term_description_id"] == "U"
        assert term["start_date"] == datetime(2018, 1, 3, 5, tzinfo=UTC)
        assert doc.lms_terms[0].values["name"] == "Winter Term 2018 (A&S)"
        plan = doc.plans[0].values
        assert plan["id"] == 20111
        assert plan["updated"] is False
        assert plan["prerequisites"] == "<p>MATH 3: Pre-College&nbsp;</p>\r\n<p>MATH 10</p>"
        assert doc.dplans[0].values["updated_at"] is None

    def test_every_list_is_optional(self):
        doc, problems = parse_document({})
        assert problems == []
        assert sum(doc.counts().values()) == 0

    def test_student_dplans_nest_without_netid(self):
        entry = {"term_code": "201801", "dplan_id": "R", "dplan_source_id": "PHL"}
        doc, problems = parse_document({"students": [{**STUDENT, "dplans": [entry]}]})
        assert problems == []
        assert doc.dplans[0].values["netid"] == "f000abc"
        assert doc.dplans[0].loc == "students[0].dplans[0]"

    def test_nullable_nested_terms(self):
        term = changed(TERM, lms_term=None, term_description=None)
        doc, problems = parse_document({"student_terms": [term]})
        assert problems == []
        assert doc.student_terms[0].values["lms_term_id"] is None
        assert doc.lms_terms == []


class TestBadDocument:
    def test_top_level_must_be_an_object(self):
        assert problems_of([]) == [": the file must hold one JSON object, got a list"]

    def test_unknown_list(self):
        [problem] = problems_of({"studnets": []})
        assert problem.startswith("studnets: unknown list")

    def test_list_must_be_a_list(self):
        assert problems_of({"plans": {}}) == ["plans: expected a list, got an object"]

    def test_record_must_be_an_object(self):
        assert problems_of({"students": [STUDENT, 3]}) == [
            "students[1]: expected an object, got number 3"
        ]

    def test_unknown_field_suggests_the_near_one(self):
        student = changed(STUDENT, classyear=2020)
        assert problems_of({"students": [student]}) == [
            "students[0].classyear: unknown field (did you mean 'class_year'?)"
        ]

    def test_missing_field(self):
        raw = document(plans=[PLAN, changed(PLAN, id="20112", student_netid=...)])
        assert problems_of(raw) == ["plans[1].student_netid: required field is missing"]

    def test_missing_nested_field(self):
        lms = changed(TERM["lms_term"], name=...)
        assert problems_of({"student_terms": [changed(TERM, lms_term=lms)]}) == [
            "student_terms[0].lms_term.name: required field is missing"
        ]

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("class_year", "2020", 'expected an integer, got string "2020"'),
            ("class_year", True, "expected an integer, got boolean true"),
            ("ferpa_protected", "N", 'expected true or false, got string "N"'),
            ("first_name", None, "must not be null"),
            ("netid", "", "must not be empty"),
            ("netid", "x" * 17, "longer than 16 characters"),
        ],
    )
    def test_wrong_student_values(self, field, value, message):
        raw = {"students": [changed(STUDENT, **{field: value})]}
        assert problems_of(raw) == [f"students[0].{field}: {message}"]

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("id", 20111, 'expected a string of digits like "20109", got number 20111'),
            ("id", "A1", 'expected a string of digits like "20109", got string "A1"'),
            ("parent_id", "20111", 'expected an integer, got string "20111"'),
            ("updated", True, 'expected "Y" or "N", got boolean true'),
            ("dropped", ["N"], 'expected "Y" or "N", got a list'),
            ("updated_at", "2021-01-29 23:07:02", "expected a UTC timestamp like"),
            ("updated_at", "2021-02-30T23:07:02Z", "not a real date and time"),
        ],
    )
    def test_wrong_plan_values(self, field, value, message):
        [problem] = problems_of({"plans": [changed(PLAN, **{field: value})]})
        assert problem.startswith(f"plans[0].{field}: {message}")

    @pytest.mark.parametrize(
        ("values", "where", "message"),
        [
            ({"id": "5D72B52DDEAAA38D5C98B5CF"}, "id", "expected 24 lowercase hex digits"),
            ({"start_date": "2018-01-03"}, "start_date", "expected a UTC timestamp"),
            ({"quarterly_term": {"id": "201802"}}, "quarterly_term.id", "expected a term code"),
            ({"quarterly_term": None}, "quarterly_term", "must not be null"),
        ],
    )
    def test_wrong_term_values(self, values, where, message):
        [problem] = problems_of({"student_terms": [changed(TERM, **values)]})
        assert problem.startswith(f"student_terms[0].{where}: {message}")

    def test_sis_term_must_end_after_it_starts(self):
        term = {"id": "201801", "name": "W", "start_date": "2018-03-15T04:00:00Z"}
        term["end_date"] = term["start_date"]
        assert problems_of({"sis_terms": [term]}) == [
            "sis_terms[0].end_date: must be after start_date"
        ]

    def test_problems_in_nested_dplans(self):
        entry = {"term_code": "201801", "dplan_id": "R"}
        assert problems_of({"students": [changed(STUDENT, dplans=[entry])]}) == [
            "students[0].dplans[0].dplan_source_id: required field is missing"
        ]

    def test_every_problem_is_named(self):
        raw = {"students": [changed(STUDENT, class_year="x", last_name=...)], "x": []}
        assert len(problems_of(raw)) == 3


class TestDuplicates:
    def test_duplicate_key_names_the_first(self):
        raw = document(plans=[PLAN, changed(PLAN, name="other")])
        assert problems_of(raw) == ["plans[1].id: plan 20111 is also at plans[0]"]

    def test_duplicate_dplan_across_nested_and_top_level(self):
        entry = {k: v for k, v in DPLAN.items() if k != "netid"}
        raw = document(students=[changed(STUDENT, dplans=[entry])])
        assert problems_of(raw) == [
            "dplans[0].term_code: the D-plan of f000abc for 201801 is also at students[0].dplans[0]"
        ]

    def test_same_nested_lms_term_twice_is_fine(self):
        raw = document(student_terms=[TERM, changed(TERM, id="5d72b5a6deaaa38d5c9bb429")])
        doc, problems = parse_document(raw)
        assert problems == []
        assert len(doc.lms_terms) == 1

    def test_conflicting_nested_lms_term(self):
        lms = changed(TERM["lms_term"], name="Another name")
        other = changed(TERM, id="5d72b5a6deaaa38d5c9bb429", lms_term=lms)
        assert problems_of(document(student_terms=[TERM, other])) == [
            "student_terms[1].lms_term: 'WI18' differs from the one at student_terms[0].lms_term"
        ]


class TestPlanOrder:
    def test_parents_come_first(self):
        child = changed(PLAN, id="20109", parent_id=20111, type="Major")
        grandchild = changed(PLAN, id="20108", parent_id=20109)
        doc, problems = parse_document(document(plans=[grandchild, child, PLAN]))
        assert problems == []
        assert [r.values["id"] for r in doc.plans] == [20111, 20109, 20108]

    def test_a_parent_outside_the_file_is_a_root(self):
        doc, problems = parse_document(document(plans=[changed(PLAN, parent_id=5)]))
        assert problems == []  # whether plan 5 exists is the importer's question
        assert doc.plans[0].values["parent_id"] == 5

    def test_cycle(self):
        a = changed(PLAN, id="1", parent_id=2)
        b = changed(PLAN, id="2", parent_id=1)
        assert problems_of(document(plans=[a, b])) == [
            "plans[0].parent_id: plans form a cycle: 1 -> 2 -> 1"
        ]

    def test_own_parent(self):
        assert problems_of(document(plans=[changed(PLAN, parent_id=20111)])) == [
            "plans[0].parent_id: plans form a cycle: 20111 -> 20111"
        ]


class TestSpecMatchesModels:
    """Lengths checked here are the columns' sizes, so PostgreSQL never refuses a checked row."""

    @pytest.mark.parametrize(
        ("spec", "model"),
        [
            (load_format.STUDENT, models.Student),
            (load_format.PLAN, models.AcademicPlan),
            (load_format.STUDENT_TERM, models.StudentTerm),
            (load_format.SIS_TERM, models.SisTerm),
            (load_format.LMS_TERM, models.LmsTerm),
            (load_format.TERM_DESCRIPTION, models.TermDescription),
            (load_format.CODE, models.DplanCode),
            (load_format.DPLAN, models.StudentDplan),
        ],
    )
    def test_string_lengths(self, spec, model):
        table = model.__table__
        for f in spec.values():
            if f.column and isinstance(f.check, string):
                length = getattr(table.c[f.column].type, "length", None)
                if length is not None:
                    assert f.check.max_length == length, f.column


class TestDemoDocument:
    """The demo set is a load document holding the seed samples verbatim."""

    def test_is_a_valid_load_document(self):
        doc, problems = parse_document(demo_document())
        assert problems == []
        assert len(doc.students) >= 43

    def test_is_the_same_every_time(self):
        assert demo_document() == demo_document()

    def test_sample_students_hold_exactly_the_samples(self):
        raw = demo_document()
        terms = [t["id"] for t in raw["student_terms"] if t["netid"] == "f000abc"]
        assert terms == ["5d72b52ddeaaa38d5c98b5cf", "5d72b5a6deaaa38d5c9bb429"]
        plans = [p["id"] for p in raw["plans"] if p["student_netid"] == "f0027k4"]
        assert plans == ["20109", "20110", "20111", "22191"]
        netids = [s["netid"] for s in raw["students"]]
        assert len(set(netids)) == len(netids)
        assert "f00000x" in netids
        assert 3 <= sum(s["ferpa_protected"] for s in raw["students"]) <= 5

    @pytest.mark.skipif(None in SEEDS.values(), reason="the seed documents are not beside the repo")
    def test_samples_are_the_seed_documents(self):
        assert_same_json(SAMPLE_TERMS, sample_after(SEEDS["004"], "Sample Return"))
        assert_same_json(SAMPLE_PLANS, sample_after(SEEDS["003"], "Sample Return"))
        task = sample_after(SEEDS["000"], "Sample Successfull Task")
        payload = [{"netid": task["resource_id"], **d} for d in task["payload"]["dplans"]]
        dplans = [{k: v for k, v in d.items() if k != "updated_at"} for d in SAMPLE_DPLANS]
        assert_same_json(dplans, payload)
        assert {d["updated_at"] for d in SAMPLE_DPLANS} == {task["completed_date"]}
