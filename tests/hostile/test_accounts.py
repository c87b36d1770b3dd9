"""What an operator's slip or a caller can do with service accounts: scopes that cannot be
confused (each one of the API's, never two joined by a comma), and subjects that cannot be
(`svc:<name>`, which no person's token may hold), through the command line and HTTP."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from tests.cli.test_accounts import fails, ok
from tests.conftest import bearer
from tests.factories import make_student
from tests.hostile import assert_clean
from tests.hostile.test_brakes import serving
from tests.rest.test_jwt import pem
from tests.rest.test_tasks import patch, seed_payload, writer

JOINED = f"{STUDENTS_READ},{PEOPLE_PRIVATE}"


def _key(url: str, name: str = "tool", scope: str = STUDENTS_READ) -> str:
    ok("account", "create", name, "--scope", scope, url=url)
    return ok("apikey", "create", name, url=url).strip().splitlines()[-1]


class TestScopes:
    def test_a_scope_with_a_comma_inside_is_refused_at_every_command(self, database_url):
        _key(database_url)
        for command in ("grant", "revoke-scope"):
            refused = fails("account", command, "tool", "--scope", JOINED, url=database_url)
            assert "holds a comma" in refused and "--scope" in refused
        refused = fails("account", "create", "other", "--scope", JOINED, url=database_url)
        assert "holds a comma" in refused
        listed = ok("account", "list", url=database_url)
        assert listed.split("\t")[0] == "tool" and listed.strip().endswith(STUDENTS_READ)
        assert "holds a comma" in fails("token", "--sub", "x", "--scope", JOINED, url=database_url)

    def test_a_scope_not_of_the_api_is_refused(self, database_url):
        _key(database_url)
        for scope in ("urn:dartmouth:people:private:all", "read", "urn:dartmouth:people:Private"):
            refused = fails("account", "grant", "tool", "--scope", scope, url=database_url)
            assert "is not a scope" in refused and PEOPLE_PRIVATE in refused  # names the four
        assert "is not a scope" in fails(
            "token", "--sub", "x", "--scope", "admin", url=database_url
        )

    async def test_no_comma_joined_scope_reaches_a_token(self, database_url, client, session):
        key = _key(database_url, scope=f"{STUDENTS_READ} {STUDENTS_WRITE}")
        fails("account", "grant", "tool", "--scope", JOINED, url=database_url)
        await make_student(session, netid="f000pro", ferpa_protected=True)
        await session.commit()

        for asked in (JOINED, f"{STUDENTS_READ} a,b", "urn:other"):
            response = await client.post(
                "/api/jwt", params={"scope": asked}, headers={"Authorization": key}
            )
            assert response.status_code == 422, (asked, response.text)
            assert response.json()["problems"][0]["loc"] == "scope"
            assert_clean(response)
        token = await client.post(
            "/api/jwt", params={"scope": STUDENTS_READ}, headers={"Authorization": key}
        )
        bearer = {"Authorization": f"Bearer {token.json()['jwt']}"}
        hidden = await client.get("/api/students/f000pro", headers=bearer)
        missing = await client.get("/api/students/f000nobody", headers=bearer)
        assert (hidden.status_code, hidden.json()) == (404, missing.json())


async def _token(client, key: str, scope: str = STUDENTS_READ) -> dict[str, str]:
    response = await client.post(
        "/api/jwt", params={"scope": scope}, headers={"Authorization": key}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['jwt']}"}


class TestSubjects:
    async def test_an_account_named_like_a_person_does_not_read_their_task(
        self, database_url, client, session, auth
    ):
        await make_student(session, netid="f0027k4")
        await session.commit()
        accepted = await patch(client, writer(auth, sub="f003ghc"), seed_payload())
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        task_id = location.rsplit("/", 1)[1]
        key = _key(database_url, name="f003ghc", scope=f"{STUDENTS_READ} {STUDENTS_WRITE}")
        account = await _token(client, key, f"{STUDENTS_READ} {STUDENTS_WRITE}")

        assert (await client.get(location, headers=writer(auth, sub="f003ghc"))).status_code == 200
        theirs = await client.get(location, headers=account)
        unknown = await client.get("/api/tasks/" + "0" * 24, headers=account)
        assert (theirs.status_code, theirs.json()) == (404, unknown.json())
        query = {"query": "query($id: String!) { task(id: $id) { taskId } }"}
        graphql = await client.post(
            "/graphql", json={**query, "variables": {"id": task_id}}, headers=account
        )
        assert graphql.status_code == 200 and graphql.json()["data"] == {"task": None}

    async def test_no_token_but_ours_holds_a_service_subject(self, settings, clock, database_url):
        """With JWT_PRIVATE_KEY, HS tokens are an identity provider's (JWT_SECRET): one whose sub
        is `svc:<name>` is refused; and a token of our own key whose sub is not `svc:` (minted
        before service accounts had subjects of their own) is refused too."""
        ours = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signing = settings.model_copy(
            update={"jwt_private_key": pem(ours), "jwt_algorithms": ["RS256", "HS256"]}
        )
        key = _key(database_url, name="tool")
        claims = {"scope": STUDENTS_READ, "exp": 2**40}
        async with serving(signing, clock) as client:
            minted = await _token(client, key)
            kid = jwt.get_unverified_header(minted["Authorization"][7:])["kid"]
            person = bearer(signing, STUDENTS_READ, sub="f003ghc")
            idp = jwt.encode({**claims, "sub": "svc:tool"}, signing.jwt_secret, "HS256")
            old = jwt.encode({**claims, "sub": "tool"}, ours, "RS256", {"kid": kid})
            expected = await client.get("/api/academic/plans")
            for headers in (minted, person):
                assert (await client.get("/api/academic/plans", headers=headers)).status_code == 200
            for token in (idp, old):
                bad = {"Authorization": f"Bearer {token}"}
                response = await client.get("/api/academic/plans", headers=bad)
                assert (response.status_code, response.content) == (401, expected.content)
        assert "service account" in fails("token", "--sub", "svc:tool", url=database_url)
