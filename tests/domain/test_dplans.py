"""D-plan payload validation: every problem named, by entry and field."""

from __future__ import annotations

import pytest

from app.domain.dplans import DplanChange, KnownIds, term_codes_in, validate_dplans
from app.errors import Invalid
from tests.worker.helpers import seed_payload

KNOWN = KnownIds(codes={"R", "L"}, sources={"PHL", "STU"}, terms={"202301", "202303", "202306"})


def problems_of(body: object) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        validate_dplans(body, KNOWN)
    return {p.loc: p.message for p in caught.value.problems}


class TestValidateDplans:
    def test_seed_payload_is_valid_and_descriptions_are_ignored(self):
        assert validate_dplans(seed_payload(), KNOWN) == [
            DplanChange("202301", "R", "PHL"),
            DplanChange("202303", "R", "PHL"),
        ]

    def test_description_fields_are_optional(self):
        body = {"dplans": [{"term_code": "202301", "dplan_id": "L", "dplan_source_id": "STU"}]}
        assert validate_dplans(body, KNOWN) == [DplanChange("202301", "L", "STU")]

    def test_names_each_bad_entry_and_field(self):
        body = seed_payload()
        del body["dplans"][0]["dplan_source_id"]  # the seed's failed sample
        body["dplans"][1]["dplan_source_id"] = "NOPE"
        body["dplans"].append({"term_code": "202302", "dplan_id": "Q", "dplan_source_id": 7})
        problems = problems_of(body)
        assert problems == {
            "dplans[0].dplan_source_id": "required",
            "dplans[1].dplan_source_id": "'NOPE' is not a known D-plan source",
            "dplans[2].term_code": problems["dplans[2].term_code"],
            "dplans[2].dplan_id": "'Q' is not a known D-plan code",
            "dplans[2].dplan_source_id": "must be a string",
        }
        assert "not a known SIS term code" in problems["dplans[2].term_code"]

    def test_duplicate_terms(self):
        body = seed_payload()
        body["dplans"][1]["term_code"] = "202301"
        assert problems_of(body) == {"dplans[1].term_code": "term 202301 is also set by dplans[0]"}

    def test_unknown_keys(self):
        body = seed_payload()
        body["dplans"][0]["colour"] = "blue"
        body["name"] = "x"
        assert set(problems_of(body)) == {"dplans[0].colour", "name"}

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"dplans": []}, "dplans"),
            ({}, "dplans"),
            ({"dplans": {"term_code": "202301"}}, "dplans"),
            ([], "body"),
            ({"dplans": ["R"]}, "dplans[0]"),
            ({"dplans": [{"term_code": "202301"}] * 101}, "dplans"),
        ],
    )
    def test_shapes(self, body, loc):
        assert loc in problems_of(body)

    def test_term_codes_to_look_up(self):
        assert term_codes_in(seed_payload()) == ["202301", "202303"]
        assert term_codes_in({"dplans": [{"term_code": 5}, "x"]}) == []
        assert term_codes_in("nonsense") == []
