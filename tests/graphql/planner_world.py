"""A world that breaks naive JSON-building SQL: empty lists, nulls in every nullable column,
hidden students everywhere (including as a visible plan's parent), unicode, HTML, quotes,
backslashes and control characters, and a student with many terms."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.reference_data import lms_term_id
from tests.factories import make_dplan, make_plan, make_student, make_term

TRICKY = 'Zoë "Q" \\ back\\slash\ttab\nline\x01\x1f <b>&amp;</b> — ☃ 𝄞'
HTML = '<p class="x">Prerequisites: <i>ECON 1</i> &amp; "MATH 3"</p>\r\n\u2028'


@dataclass
class World:
    netids: list[str] = field(default_factory=list)  # visible
    hidden: list[str] = field(default_factory=list)  # FERPA-protected
    plan_ids: list[int] = field(default_factory=list)
    hidden_plan_ids: list[int] = field(default_factory=list)


async def build_world(session) -> World:
    world = World()
    people = [
        dict(netid="w000001", first_name="Ada", middle_name=None, last_name="Lovelace"),
        dict(netid="w000002", first_name=TRICKY, middle_name="", last_name="Ñúñez"),
        dict(netid="w000003", first_name="", middle_name="M", last_name="", class_year=None),
        dict(netid="w000004", first_name="Bo", middle_name="de la", last_name="Cruz_%"),
        dict(netid="w000005", first_name="Cy", last_name="Empty", school_code=None),
        dict(netid="w000006", first_name="Di", last_name="Many", class_year=2019),
        dict(netid="w000007", first_name="Ed", last_name="Hidden", ferpa_protected=True),
        dict(netid="w000008", first_name="Flo", last_name="Hidden", ferpa_protected=True),
        dict(netid="w0000%9", first_name="Gus", last_name="Percent", school_code="GR"),
    ]
    for person in people:
        student = await make_student(session, **person)
        (world.hidden if student.ferpa_protected else world.netids).append(student.netid)

    for term in ("201809", "201901", "201903"):
        await make_term(session, "w000001", term)
    await make_term(
        session,
        "w000002",
        "201906",
        lms_term_id=None,
        term_description_id=None,
        start_date=None,
        end_date=None,
        school_id=None,
    )
    for year in range(2015, 2020):  # twenty terms
        for season in ("01", "03", "06", "09"):
            term = f"{year}{season}"
            await make_term(session, "w000006", term, lms_term_id=lms_term_id(term))
    await make_term(session, "w000007", "201909")

    parent = await make_plan(session, "w000001", type="Modified", name=TRICKY)
    child = await make_plan(
        session, "w000001", parent_id=parent.id, internal_comment=HTML, student_rationale=TRICKY
    )
    hidden_parent = await make_plan(session, "w000007", department=None, updated_at=None)
    orphan = await make_plan(
        session, "w000004", parent_id=hidden_parent.id, updated=True, dropped=True
    )
    bare = await make_plan(
        session, "w000002", department=None, faculty_netid=None, db_name=None, updated_at=None
    )
    world.plan_ids += [parent.id, child.id, orphan.id, bare.id]
    world.hidden_plan_ids.append(hidden_parent.id)

    await make_dplan(session, "w000001", "201901")
    await make_dplan(session, "w000001", "201809", dplan_id="L", dplan_source_id="STU")
    await make_dplan(session, "w000006", "201903")
    await make_dplan(session, "w000007", "201909")
    await session.commit()
    return world
