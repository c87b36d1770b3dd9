# ruff: noqa: E501  (the samples' strings are kept whole, byte for byte)
"""The seed documents' samples, verbatim: the compat routes' OpenAPI examples and the heart of
the demo data set (app/domain/demo.py). Held here once.

tests/rest/test_contract.py checks these equal the samples in ../shared/seeds/."""

from __future__ import annotations

from typing import Any

# Verbatim, repetitions included: these are the seed documents' own bytes.
PLANS_SAMPLE: list[dict[str, Any]] = [
    {
        "id": "20109",
        "type": "Major",
        "state": "declared",
        "name": "GOVT-GOVT:ECON",
        "parent_id": 20111,
        "updated": "N",
        "dropped": "N",
        "department": "GOVT",
        "student_netid": "f0027k4",
        "faculty_netid": "f003736",
        "internal_comment": None,
        "student_rationale": "<p>The modified major will best allow me to explore international relations</p>",
        "denial_reason": None,
        "prerequisites": "<p>MATH 3: Pre-College&nbsp;</p>\r\n<p>MATH 10: Pre-College</p>\r\n<p>ECON 1: 20W&nbsp;</p>",
        "culminating_experience": "<p>GOVT 92: Economics Statecraft and International Relations&nbsp;</p>\r\n<p>GOVT 86.27: Ethics of the Family</p>",
        "approval_comment": None,
        "student_comments": None,
        "db_name": "iron",
        "updated_at": "2021-01-29T23:07:02Z",
    },
    {
        "id": "20110",
        "type": "Major",
        "state": "declared",
        "name": "ECON-GOVT:ECON",
        "parent_id": 20111,
        "updated": "N",
        "dropped": "N",
        "department": "ECON",
        "student_netid": "f0027k4",
        "faculty_netid": "d22062k",
        "internal_comment": None,
        "student_rationale": "<p>The modified major will best allow me to explore international relations</p>",
        "denial_reason": None,
        "prerequisites": "<p>MATH 3: Pre-College&nbsp;</p>\r\n<p>MATH 10: Pre-College</p>\r\n<p>ECON 1: 20W&nbsp;</p>",
        "culminating_experience": "<p>GOVT 92: Economics Statecraft and International Relations&nbsp;</p>\r\n<p>GOVT 86.27: Ethics of the Family</p>",
        "approval_comment": None,
        "student_comments": None,
        "db_name": "iron",
        "updated_at": "2021-01-29T23:07:02Z",
    },
    {
        "id": "20111",
        "type": "Modified",
        "state": "declared",
        "name": "GOVT:ECON",
        "parent_id": None,
        "updated": "N",
        "dropped": "N",
        "department": None,
        "student_netid": "f0027k4",
        "faculty_netid": None,
        "internal_comment": None,
        "student_rationale": "<p>The modified major will best allow me to explore international relations</p>",
        "denial_reason": None,
        "prerequisites": "<p>MATH 3: Pre-College&nbsp;</p>\r\n<p>MATH 10: Pre-College</p>\r\n<p>ECON 1: 20W&nbsp;</p>",
        "culminating_experience": "<p>GOVT 92: Economics Statecraft and International Relations&nbsp;</p>\r\n<p>GOVT 86.27: Ethics of the Family</p>",
        "approval_comment": None,
        "student_comments": None,
        "db_name": "iron",
        "updated_at": "2021-01-29T23:07:02Z",
    },
    {
        "id": "22191",
        "type": "Major",
        "state": "declared",
        "name": "ASCL-MAJOR",
        "parent_id": None,
        "updated": "N",
        "dropped": "N",
        "department": "ASCL",
        "student_netid": "f0027k4",
        "faculty_netid": "d34486s",
        "internal_comment": None,
        "student_rationale": None,
        "denial_reason": None,
        "prerequisites": "<p>All prerequisites have been satisfied</p>",
        "culminating_experience": "",
        "approval_comment": None,
        "student_comments": None,
        "db_name": "iron",
        "updated_at": "2021-04-23T16:12:20Z",
    },
]

TERMS_SAMPLE: list[dict[str, Any]] = [
    {
        "netid": "f000abc",
        "term_id": "201801-U",
        "school_id": "UG",
        "is_active": False,
        "start_date": "2018-01-03T05:00:00Z",
        "end_date": "2018-03-13T04:00:00Z",
        "lms_term": {
            "id": "WI18",
            "name": "Winter Term 2018 (A&S)",
            "is_course_send_enabled": False,
            "is_enroll_send_enabled": False,
        },
        "quarterly_term": {
            "id": "201801",
            "name": "Winter Term 2018",
            "start_date": "2017-12-16T05:00:00Z",
            "end_date": "2018-03-15T04:00:00Z",
            "current_term_offset": -6,
        },
        "term_description": {"id": "U", "name": "Undergraduate full term"},
        "id": "5d72b52ddeaaa38d5c98b5cf",
    },
    {
        "netid": "f000abc",
        "term_id": "201901-U",
        "school_id": "UG",
        "is_active": False,
        "start_date": "2019-01-03T05:00:00Z",
        "end_date": "2019-03-13T04:00:00Z",
        "lms_term": {
            "id": "WI19",
            "name": "Winter Term 2019 (A&S)",
            "is_course_send_enabled": False,
            "is_enroll_send_enabled": False,
        },
        "quarterly_term": {
            "id": "201901",
            "name": "Winter Term 2019",
            "start_date": "2018-12-16T05:00:00Z",
            "end_date": "2019-03-15T04:00:00Z",
            "current_term_offset": -2,
        },
        "term_description": {"id": "U", "name": "Undergraduate full term"},
        "id": "5d72b5a6deaaa38d5c9bb429",
    },
]

DPLANS_PAYLOAD_SAMPLE: dict[str, Any] = {
    "dplans": [
        {
            "dplan_description": "Resident",
            "dplan_source_id": "PHL",
            "dplan_id": "R",
            "dplan_source_description": "Registrar Action",
            "term_code": "202301",
        },
        {
            "dplan_description": "Resident",
            "dplan_source_id": "PHL",
            "dplan_id": "R",
            "dplan_source_description": "Registrar Action",
            "term_code": "202303",
        },
    ]
}


# Not a seed sample: the student route has none. Its dplans are shaped as the PATCH payload above.
STUDENT_EXAMPLE: dict[str, Any] = {
    "netid": "f0027k4",
    "first_name": "Jane",
    "middle_name": None,
    "last_name": "Doe",
    "name": "Jane Doe",
    "class_year": 2023,
    "school_code": "UG",
    "ferpa_protected": False,
    "dplans": DPLANS_PAYLOAD_SAMPLE["dplans"],
}
