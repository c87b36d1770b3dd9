"""`studentgraph audit`'s tab-separated lines cannot be forged by what a caller chose: a token's
`scope` claim (a list may hold tabs and newlines) is escaped, one record a line, six fields."""

from __future__ import annotations

import codecs
import time

import jwt

from app.auth import STUDENTS_READ
from tests.cli.test_audit import audit
from tests.factories import make_student

FORGED = "x\t2099-01-01T00:00:00Z\nforged\\\t2099-01-01T00:00:00Z\tadmin\u2028\x1b[2J"


async def test_a_scope_claim_with_tabs_and_newlines_forges_no_line(
    database_url, client, session, settings
):
    await make_student(session, netid="f000abc")
    await session.commit()
    claims = {"sub": "f003ghc", "scope": [STUDENTS_READ, FORGED], "exp": int(time.time()) + 600}
    token = jwt.encode(claims, settings.jwt_secret, "HS256")
    response = await client.get(
        "/api/students/f000abc", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200

    lines = audit(database_url, "--netid", "f000abc")

    assert len(lines) == 2  # the header and one record
    fields = lines[1].split("\t")
    assert len(fields) == 6 and fields[1] == "f003ghc"
    assert "\x1b" not in lines[1] and "\u2028" not in lines[1]
    # A reader that knows the escaping undoes it (this field is ASCII: unicode_escape does).
    assert codecs.decode(fields[4], "unicode_escape") == f"{STUDENTS_READ} {FORGED}"
