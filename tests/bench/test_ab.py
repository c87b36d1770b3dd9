"""bench.peer.ab's parsing and report (the servers and wrk run only in the bench itself)."""

from __future__ import annotations

from bench.peer.ab import Round, report, variables


def test_variables_are_key_value_pairs_split_on_the_first_equals_sign():
    assert variables("") == {}
    assert variables("A=1,B=x=y") == {"A": "1", "B": "x=y"}


def test_the_report_gives_medians_and_the_ratios():
    rounds = {
        "A": [Round(90, 500, 400, 1000), Round(100, 480, 380, 950), Round(300, 1, 1, 1)],
        "B": [Round(100, 470, 300, 800), Round(110, 460, 290, 790), Round(120, 450, 280, 780)],
    }
    a, b, ratio = report("one", rounds)
    assert a == "| one | A | 100 | 480 | 380 | 950 |"
    assert b == "| one | B | 110 | 460 | 290 | 790 |"
    assert ratio == "| one | A/B | 0.91x (rounds 0.90x-2.50x) | | | 0.83x (B's CPU / A's) |"
