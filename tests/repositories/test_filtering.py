"""filtering: conditions become SQL clauses over a map of allowed fields, values only ever bound
parameters, every value that does not fit named in one `Invalid`. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Integer, String, column, table
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.elements import False_

from app.domain.filters import Condition
from app.errors import Invalid, Problem
from app.repositories.filtering import (
    Field,
    bound_value,
    compile_conditions,
    to_datetime,
    to_flag,
    to_int,
    value_problem,
)

T = table("t", column("name", String), column("n", Integer), column("code", String))
FIELDS = {
    "name": Field(T.c.name, prefixable=True),
    "n": Field(T.c.n, to_int),
    "code": Field(T.c.code),
}


def sql(clause) -> str:
    """A clause as SQLite text, values inlined (to read what it compares)."""
    return str(clause.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


class TestCoercions:
    def test_to_int_takes_digits_and_refuses_booleans_and_overflow(self):
        assert to_int("42") == 42 and to_int(-7) == -7
        assert to_int(2**63 - 1) == 2**63 - 1
        for bad in (True, 2**63, -(2**63) - 1, "4x"):
            with pytest.raises(ValueError):
                to_int(bad)

    @pytest.mark.parametrize("text", ["Y", "yes", "TRUE", " 1 ", True])
    def test_to_flag_true(self, text):
        assert to_flag(text) is True

    @pytest.mark.parametrize("text", ["N", "no", "false", "0", False])
    def test_to_flag_false(self, text):
        assert to_flag(text) is False

    def test_to_flag_refuses_anything_else(self):
        with pytest.raises(ValueError, match="Y or N"):
            to_flag("maybe")

    def test_to_datetime_reads_a_day_without_a_zone_as_utc(self):
        assert to_datetime("2020-01-01") == datetime(2020, 1, 1, tzinfo=UTC)
        assert to_datetime("2020-01-01T05:00:00Z") == datetime(2020, 1, 1, 5, tzinfo=UTC)

    def test_to_datetime_keeps_a_given_zone(self):
        eastern = timezone(timedelta(hours=-5))
        parsed = to_datetime("2020-01-01T00:00:00-05:00")
        assert parsed.tzinfo is not None
        assert parsed == datetime(2020, 1, 1, tzinfo=eastern)


class TestBoundValue:
    def test_a_prefix_is_escaped_for_like(self):
        cond = Condition("name", "prefix", "50%_off\\")
        assert bound_value(FIELDS["name"], cond) == "50\\%\\_off\\\\%"

    def test_a_prefix_on_a_field_that_takes_none_is_refused(self):
        with pytest.raises(ValueError, match="prefix"):
            bound_value(FIELDS["code"], Condition("code", "prefix", "A"))

    def test_values_are_coerced_to_the_fields_type(self):
        assert bound_value(FIELDS["n"], Condition("n", "gte", "2020")) == 2020
        assert bound_value(FIELDS["n"], Condition("n", "in", ["1", 2])) == [1, 2]
        assert bound_value(FIELDS["code"], Condition("code", "eq", 7)) == "7"

    def test_a_value_that_does_not_fit_raises(self):
        with pytest.raises(ValueError):
            bound_value(FIELDS["n"], Condition("n", "eq", "twenty"))


class TestValueProblem:
    def test_names_the_field_the_value_and_the_reason(self):
        problem = value_problem(Condition("n", "eq", "x"), ValueError("expected an integer"))
        assert problem == Problem("n", "'x' is not valid here: expected an integer")


class TestCompileConditions:
    def test_each_operator(self):
        ops = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        for op, symbol in ops.items():
            (clause,) = compile_conditions(FIELDS, [Condition("n", op, "3")])
            assert sql(clause) == f"t.n {symbol} 3"

    def test_in_and_prefix(self):
        clauses = compile_conditions(
            FIELDS, [Condition("n", "in", ["1", "2"]), Condition("name", "prefix", "a_b")]
        )
        assert [sql(c) for c in clauses] == ["t.n IN (1, 2)", "t.name LIKE 'a\\_b%' ESCAPE '\\'"]

    def test_an_empty_in_matches_nothing(self):
        (clause,) = compile_conditions(FIELDS, [Condition("n", "in", [])])
        assert isinstance(clause, False_)

    def test_values_are_bound_parameters_never_sql_text(self):
        hostile = "x'; DROP TABLE t; --"
        (clause,) = compile_conditions(FIELDS, [Condition("name", "eq", hostile)])
        compiled = clause.compile(dialect=sqlite.dialect())
        assert hostile not in str(compiled)
        assert list(compiled.params.values()) == [hostile]

    def test_unknown_fields_are_ignored(self):
        assert compile_conditions(FIELDS, [Condition("nope", "eq", "1")]) == []

    def test_every_bad_value_is_named_at_once(self):
        conditions = [
            Condition("n", "eq", "x"),
            Condition("name", "eq", "fine"),
            Condition("code", "prefix", "A"),
        ]
        with pytest.raises(Invalid) as caught:
            compile_conditions(FIELDS, conditions)
        assert [p.loc for p in caught.value.problems] == ["n", "code"]
        assert "does not support a prefix match" in caught.value.problems[1].message
