"""The SIS quarterly term calendar (pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from app.domain import terms as calendar


class TestCalendar:
    def test_winter_2018_matches_the_terms_sample(self):
        term = calendar.quarterly_term("201801")
        assert term.name == "Winter Term 2018"
        assert term.start_date == datetime(2017, 12, 16, 5, tzinfo=UTC)
        assert term.end_date == datetime(2018, 3, 15, 4, tzinfo=UTC)

    def test_1990_to_2040_is_contiguous(self):
        terms = calendar.calendar(1990, 2040)
        assert terms[0].id == "199001" and terms[-1].id == "204009"
        assert len(terms) == 51 * 4
        assert all(a.end_date == b.start_date for a, b in itertools.pairwise(terms))
        assert {t.id[4:] for t in terms} == {"01", "03", "06", "09"}

    def test_ordinal_and_back(self):
        assert calendar.ordinal("201906") - calendar.ordinal("201801") == 6
        assert calendar.term_id_at(calendar.ordinal("201909") + 1) == "202001"

    @pytest.mark.parametrize("bad", ["201802", "2018", "abcdef", "20180"])
    def test_bad_ids(self, bad):
        assert not calendar.is_term_id(bad)
        with pytest.raises(ValueError):
            calendar.ordinal(bad)

    def test_seed_offsets_on_2019_07_01(self):
        current = "201906"  # 2019-07-01 falls in Summer 2019
        summer = calendar.quarterly_term(current)
        assert summer.start_date <= datetime(2019, 7, 1, tzinfo=UTC) < summer.end_date
        assert calendar.offset("201801", current) == -6
        assert calendar.offset("201901", current) == -2
        assert calendar.offset("201801", None) is None

    def test_boundaries_are_half_open(self):
        winter, spring = calendar.quarterly_term("201901"), calendar.quarterly_term("201903")
        assert winter.end_date == spring.start_date  # contiguous: [start, end)
