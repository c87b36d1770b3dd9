"""What an operator's slip or a caller can do with service accounts: scopes that cannot be
confused (each one of the API's, never two joined by a comma), through the command line and
POST /api/jwt."""

from __future__ import annotations

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from tests.cli.test_accounts import fails, ok
from tests.factories import make_student
from tests.hostile import assert_clean

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
        await make_student(session, netid="f000pro", ferpa_protected=True)
        await session.commit()
        key = _key(database_url, scope=f"{STUDENTS_READ} {STUDENTS_WRITE}")
        fails("account", "grant", "tool", "--scope", JOINED, url=database_url)

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
