"""Access on every compat route, exactly as GraphQL (the same services): 401 for anything not a
valid token, 403 for a missing scope, and a FERPA-protected student that does not exist without
`urn:dartmouth:people:private` (byte for byte the unknown answer)."""

from __future__ import annotations

import time

import jwt
import pytest

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from tests.factories import make_dplan, make_plan, make_student, make_term

HIDDEN, UNKNOWN, PLAIN = "f000hid", "f000unk", "f000abc"
HIDDEN_PLAN, UNKNOWN_PLAN = 70001, 79999

# (route template, what a hidden student looks like there)
ROUTES = [
    ("/api/students/{netid}/terms", 404),
    ("/api/students/{netid}/plans", 404),
    ("/api/students/{netid}", 404),
    ("/api/academic/plans/{plan}", 404),
    ("/api/academic/plans?netid={netid}", 200),
    ("/api/academic/plans/?netid={netid}", 200),
]
ROUTE_IDS = [r for r, _ in ROUTES]


def url(template: str, *, netid: str, plan: int) -> str:
    return template.format(netid=netid, plan=plan)


@pytest.fixture
async def people(session):
    await make_student(session, netid=PLAIN)
    await make_term(session, PLAIN, "201906")
    await make_plan(session, PLAIN, id=70000)
    await make_student(session, netid=HIDDEN, ferpa_protected=True)
    await make_term(session, HIDDEN, "201906")
    await make_plan(session, HIDDEN, id=HIDDEN_PLAN)
    await make_dplan(session, HIDDEN, "201909")
    await session.commit()


def _token(settings, **overrides):
    claims = {"sub": "f003ghc", "scope": STUDENTS_READ, "exp": int(time.time()) + 600}
    claims.update(overrides)
    return claims


def bad_tokens(settings) -> dict[str, dict[str, str]]:
    good = _token(settings)
    none_token = jwt.encode(good, key=None, algorithm="none")
    return {
        "none": {},
        "not bearer": {"Authorization": "Basic Zm9vOmJhcg=="},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "bad signature": {
            "Authorization": "Bearer " + jwt.encode(good, "another-secret" * 4, "HS256")
        },
        "expired": {
            "Authorization": "Bearer "
            + jwt.encode(_token(settings, exp=int(time.time()) - 3600), settings.jwt_secret)
        },
        "alg none": {"Authorization": f"Bearer {none_token}"},
    }


class TestUnauthenticated:
    @pytest.mark.parametrize("template", ROUTE_IDS)
    async def test_every_route_answers_401(self, client, settings, people, template):
        for name, headers in bad_tokens(settings).items():
            response = await client.get(url(template, netid=PLAIN, plan=70000), headers=headers)

            assert response.status_code == 401, name
            expected = 'Bearer error="invalid_token"'
            if name == "expired":  # RFC 6750's description; tests/hostile/test_tokens.py
                expected += ', error_description="expired"'
            assert response.headers["www-authenticate"] == expected, name
            body = response.json()
            assert list(body) == ["status", "code", "message", "problems"]
            assert (body["status"], body["code"]) == (401, "UNAUTHENTICATED")

    @pytest.mark.parametrize("template", ROUTE_IDS)
    async def test_401_comes_before_404(self, client, template):
        response = await client.get(url(template, netid=UNKNOWN, plan=UNKNOWN_PLAN))
        assert response.status_code == 401


class TestForbidden:
    @pytest.mark.parametrize("template", ROUTE_IDS)
    async def test_missing_read_scope_is_403(self, client, auth, people, template):
        response = await client.get(
            url(template, netid=PLAIN, plan=70000), headers=auth(PEOPLE_PRIVATE)
        )

        assert response.status_code == 403
        assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
        assert response.json()["code"] == "FORBIDDEN"


def _comparable(response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    return response.status_code, response.content, headers


class TestFerpa:
    @pytest.mark.parametrize(("template", "status"), ROUTES, ids=ROUTE_IDS)
    async def test_hidden_is_exactly_unknown(self, client, auth, people, template, status):
        headers = auth(STUDENTS_READ)
        hidden = await client.get(url(template, netid=HIDDEN, plan=HIDDEN_PLAN), headers=headers)
        unknown = await client.get(url(template, netid=UNKNOWN, plan=UNKNOWN_PLAN), headers=headers)

        assert hidden.status_code == status
        assert _comparable(hidden) == _comparable(unknown)
        if status == 404:
            assert hidden.json() == {
                "status": 404,
                "code": "NOT_FOUND",
                "message": "Not found.",
                "problems": [],
            }
        else:
            assert hidden.json() == []

    @pytest.mark.parametrize("template", ROUTE_IDS)
    async def test_private_scope_sees_the_hidden_student(self, client, auth, people, template):
        headers = auth(STUDENTS_READ, PEOPLE_PRIVATE)
        response = await client.get(url(template, netid=HIDDEN, plan=HIDDEN_PLAN), headers=headers)

        assert response.status_code == 200
        assert response.json() not in ([], {})

    async def test_hidden_plans_are_absent_from_unfiltered_collections(self, client, auth, people):
        response = await client.get("/api/academic/plans", headers=auth(STUDENTS_READ))

        assert [p["id"] for p in response.json()] == ["70000"]
        assert response.headers["x-total-count"] == "1"
