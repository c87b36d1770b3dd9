"""What an operator's slip or a caller can do with service accounts: scopes that cannot be
confused (each one of the API's, never two joined by a comma), subjects that cannot be
(`svc:<name>`, which no person's token may hold), and an account cut off within seconds at every
process (`account disable`, `revoke-tokens`), through the command line and HTTP."""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import AsyncExitStack

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from app.auth.cutoffs import Cutoffs
from app.main import create_app
from tests.cli.test_accounts import fails, in_thread, ok
from tests.conftest import bearer, counting_statements
from tests.factories import make_student
from tests.graphql.test_websocket import PROTOCOL, ask
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
        key = await in_thread(_key, database_url, scope=f"{STUDENTS_READ} {STUDENTS_WRITE}")
        await in_thread(fails, "account", "grant", "tool", "--scope", JOINED, url=database_url)
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
        key = await in_thread(
            _key, database_url, name="f003ghc", scope=f"{STUDENTS_READ} {STUDENTS_WRITE}"
        )
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
        key = await in_thread(_key, database_url, name="tool")
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
        assert "service account" in await in_thread(
            fails, "token", "--sub", "svc:tool", url=database_url
        )


async def _refreshed(*clients, rounds: int = 2) -> None:
    """Until each instance has read its cut-offs `rounds` more times: two, so that one of them
    began after the command that changed them had committed (the bound of README: two
    ACCOUNT_CUTOFF_REFRESH_SECONDS). A count, not a time; the loop's end is a safety net."""
    states = [c._transport.app.state.studentgraph for c in clients]
    targets = [(state, state.cutoffs.refreshes + rounds) for state in states]
    for _ in range(600):
        if all(state.cutoffs.refreshes >= n for state, n in targets):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("an instance did not refresh its cut-offs")


async def _next_second(after: float) -> None:
    """`iat` is in whole seconds: a token issued in the second of a cut-off is refused too."""
    await asyncio.sleep(max(0.0, math.floor(after) + 1 - time.time()))


class TestCutOff:
    async def test_an_account_is_cut_off_at_every_instance(self, settings, clock, database_url):
        key = await in_thread(_key, database_url, name="tool")
        fast = settings.model_copy(
            update={"account_cutoff_refresh_seconds": 0.2, "worker_in_process": False}
        )
        plans = "/api/academic/plans"
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(serving(fast, clock))
            b = await stack.enter_async_context(serving(fast, clock))
            refused = (await a.get(plans)).content  # no token: the one 401 body
            first = await _token(a, key)
            for instance in (a, b):
                assert (await instance.get(plans, headers=first)).status_code == 200

            await in_thread(ok, "account", "revoke-tokens", "tool", url=database_url)
            revoked_at = time.time()
            await _refreshed(a, b)
            for instance in (a, b):
                answer = await instance.get(plans, headers=first)
                assert (answer.status_code, answer.content) == (401, refused)
            await _next_second(revoked_at)
            second = await _token(b, key)  # its key gets new tokens
            for instance in (a, b):
                assert (await instance.get(plans, headers=second)).status_code == 200

            await in_thread(ok, "account", "disable", "tool", url=database_url)
            disabled_at = time.time()
            await _refreshed(a, b)
            for instance in (a, b):
                answer = await instance.get(plans, headers=second)
                assert (answer.status_code, answer.content) == (401, refused)
            exchange = await a.post("/api/jwt", headers={"Authorization": key})
            assert exchange.status_code == 401

            await in_thread(ok, "account", "enable", "tool", url=database_url)
            await _next_second(disabled_at)
            third = await _token(a, key)
            await _refreshed(a, b)
            for instance in (a, b):
                assert (await instance.get(plans, headers=third)).status_code == 200
                assert (await instance.get(plans, headers=second)).status_code == 401
        listed = (await in_thread(ok, "account", "list", url=database_url)).split("\t")
        assert listed[2] == "-" and listed[3] != "-"  # enabled; tokens before a time refused

    async def test_no_statement_per_request(self, settings, clock, database_url):
        """A service account's token is checked against the process's table: a request with one
        runs the statements a person's runs, none of them on service_accounts."""
        key = await in_thread(_key, database_url, name="tool")
        async with serving(settings, clock) as client:
            account = await _token(client, key)
            person = bearer(settings, STUDENTS_READ, sub="f003ghc")
            counts = []
            for headers in (account, person, account):
                with counting_statements(client._transport.app) as counter:
                    response = await client.get("/api/academic/plans", headers=headers)
                assert response.status_code == 200
                assert not [s for s in counter.statements if "service_accounts" in s]
                counts.append(counter.count)
        assert counts[0] == counts[1] == counts[2]

    def test_each_command_names_a_missing_account(self, database_url):
        for command in ("disable", "enable", "revoke-tokens"):
            assert "no service account named 'ghost'" in fails(
                "account", command, "ghost", url=database_url
            )

    async def test_a_table_that_cannot_be_read_is_a_503_for_accounts_only(
        self, settings, clock, database_url
    ):
        """The database is the truth: a process that cannot read the cut-offs answers a service
        account's token 503 (Retry-After), never lets it through unchecked; people's tokens are
        never looked up."""
        key = await in_thread(_key, database_url, name="tool")

        async def unreachable() -> dict[str, float]:
            raise ConnectionRefusedError("the database is down")

        async with serving(settings, clock) as client:
            account = await _token(client, key)
            state = client._transport.app.state.studentgraph
            state.cutoffs = Cutoffs(settings.account_cutoff_refresh_seconds, unreachable)
            answer = await client.get("/api/academic/plans", headers=account)
            assert answer.status_code == 503 and answer.headers["retry-after"]
            assert_clean(answer, unavailable=True)
            person = bearer(settings, STUDENTS_READ, sub="f003ghc")
            assert (await client.get("/api/academic/plans", headers=person)).status_code == 200

    def test_an_open_websocket_closes_at_its_next_operation(self, settings, clock, database_url):
        key = _key(database_url, name="tool")
        fast = settings.model_copy(
            update={"account_cutoff_refresh_seconds": 0.2, "worker_in_process": False}
        )
        with TestClient(create_app(fast, clock=clock)) as client:
            minted = client.post(
                "/api/jwt", params={"scope": STUDENTS_READ}, headers={"Authorization": key}
            )
            with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
                init = {"Authorization": f"Bearer {minted.json()['jwt']}"}
                ws.send_json({"type": "connection_init", "payload": init})
                assert ws.receive_json() == {"type": "connection_ack"}
                assert ask(ws, "{ dplanCodes { id } }")[-1]["type"] == "complete"
                ok("account", "revoke-tokens", "tool", url=database_url)
                cutoffs = client.app.state.studentgraph.cutoffs
                target = cutoffs.refreshes + 2
                for _ in range(600):  # a count; the loop's end is a safety net
                    if cutoffs.refreshes >= target:
                        break
                    time.sleep(0.05)
                ws.send_json(
                    {"id": "2", "type": "subscribe", "payload": {"query": "{ dplanCodes { id } }"}}
                )
                message = ws.receive()
        assert (message["type"], message["code"]) == ("websocket.close", 4403)
