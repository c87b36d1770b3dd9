"""POST /api/jwt: a service account's API key exchanged for a token (DESIGN section 5), the
token's claims and signature (HS256 in development, RS256/ES256 with a JWKS), and one fixed 401
for every refused key."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError
from sqlalchemy import update
from starlette.testclient import TestClient

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import ApiKey
from app.services import accounts
from tests.factories import make_student

READ, WRITE = STUDENTS_READ, STUDENTS_WRITE


async def account_with_key(sessions, name="registrar-tool", scopes=(READ, WRITE), **key_args):
    async with transaction(sessions) as session:
        await accounts.create_account(session, name, list(scopes))
        key = await accounts.create_key(session, name, **key_args)
    return key


async def exchange(client, key, scope=None, **headers):
    params = {} if scope is None else {"scope": scope}
    return await client.post("/api/jwt", params=params, headers={"Authorization": key, **headers})


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


class TestExchange:
    async def test_accepted_is_requested_and_granted_in_the_order_asked(self, client, sessions):
        key = await account_with_key(sessions)

        response = await exchange(client, key.key, f"{WRITE} {PEOPLE_PRIVATE} {READ}")

        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert list(body) == ["jwt", "accepted_scopes"]
        assert body["accepted_scopes"] == [WRITE, READ]
        claims = claims_of(body["jwt"])
        assert (claims["sub"], claims["name"], claims["scope"]) == (
            "svc:registrar-tool",
            "registrar-tool",
            f"{WRITE} {READ}",
        )
        assert claims["exp"] - claims["iat"] == 3600  # API_JWT_LIFETIME_SECONDS

    async def test_no_scope_asked_none_given(self, client, sessions):
        key = await account_with_key(sessions)

        body = (await exchange(client, key.key)).json()

        assert body["accepted_scopes"] == [] and claims_of(body["jwt"])["scope"] == ""

    async def test_the_token_works_on_the_routes(self, client, sessions, session):
        await make_student(session, netid="f000abc")
        await session.commit()
        key = await account_with_key(sessions)
        token = (await exchange(client, key.key, READ)).json()["jwt"]
        headers = {"Authorization": f"Bearer {token}"}

        assert (await client.get("/api/students/f000abc", headers=headers)).status_code == 200
        answer = await client.post(
            "/graphql", json={"query": '{ student(netid: "f000abc") { netid } }'}, headers=headers
        )
        assert answer.json()["data"] == {"student": {"netid": "f000abc"}}
        # Asked for read only: a write is refused although the account holds write too.
        dplan = {"term_code": "202301", "dplan_id": "R", "dplan_source_id": "PHL"}
        body = {"dplans": [dplan]}
        patch = await client.patch("/api/students/f000abc", json=body, headers=headers)
        assert patch.status_code == 403

    async def test_last_used_is_recorded(self, client, sessions):
        key = await account_with_key(sessions)
        async with sessions() as session:
            (before,) = await accounts.keys(session)
        await exchange(client, key.key)
        async with sessions() as session:
            (after,) = await accounts.keys(session)
        assert before.last_used_at is None and after.last_used_at is not None

    async def test_get_is_405(self, client):
        response = await client.get("/api/jwt")
        assert response.status_code == 405 and "POST" in response.headers["allow"]


class TestRefused:
    async def test_every_refused_key_gets_the_same_401(self, client, sessions, caplog):
        good = await account_with_key(sessions)
        revoked = await account_with_key(sessions, name="old-tool")
        expired = await account_with_key(sessions, name="temp-tool")
        async with transaction(sessions) as session:
            await accounts.revoke_key(session, revoked.key_id)
            past = datetime.now(UTC) - timedelta(seconds=1)
            await session.execute(
                update(ApiKey).where(ApiKey.id == expired.key_id).values(expires_at=past)
            )
        wrong_secret = good.key[:-4] + ("AAAA" if not good.key.endswith("AAAA") else "BBBB")
        attempts = {
            "revoked": {"Authorization": revoked.key},
            "expired": {"Authorization": expired.key},
            "wrong secret": {"Authorization": wrong_secret},
            "unknown": {"Authorization": "sgk_000000000000_" + "A" * 43},
            "malformed": {"Authorization": "not-a-key"},
            "bearer": {"Authorization": f"Bearer {good.key}"},
            "missing": {},
        }
        with caplog.at_level(logging.INFO):
            answers = {
                name: await client.post("/api/jwt", headers=headers)
                for name, headers in attempts.items()
            }
        bodies = {(a.status_code, a.content) for a in answers.values()}
        assert len(bodies) == 1 and next(iter(bodies))[0] == 401, bodies
        assert b"API key" in next(iter(bodies))[1]
        assert all("ApiKey" in a.headers["www-authenticate"] for a in answers.values())
        logged = "\n".join(r.getMessage() + str(getattr(r, "reason", "")) for r in caplog.records)
        assert "revoked" in logged and "expired" in logged
        assert good.key[17:] not in logged and revoked.key[17:] not in logged

    async def test_two_authorization_headers_are_refused(self, client, sessions):
        key = await account_with_key(sessions)
        response = await client.post(
            "/api/jwt", headers=[("Authorization", key.key), ("Authorization", key.key)]
        )
        assert response.status_code == 401

    async def test_a_malformed_scope_is_422_naming_it(self, client, sessions):
        key = await account_with_key(sessions)
        response = await exchange(client, key.key, "ok\x7fbad")
        assert response.status_code == 422 and response.json()["problems"][0]["loc"] == "scope"


def pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(params=["RS256", "ES256"])
def signing_settings(request, settings):
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if request.param == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return request.param, settings.model_copy(
        update={"jwt_private_key": pem(key), "jwt_algorithms": [request.param, "HS256"]}
    )


class TestSigning:
    async def test_with_a_private_key_tokens_are_asymmetric_and_published(
        self, signing_settings, sessions, session, clock
    ):
        algorithm, settings = signing_settings
        await make_student(session, netid="f000abc")
        await session.commit()
        key = await account_with_key(sessions)
        with TestClient(create_app(settings, clock=clock)) as client:
            token = client.post(
                "/api/jwt?scope=" + READ, headers={"Authorization": key.key}
            ).json()["jwt"]
            keys = client.get("/.well-known/jwks.json").json()["keys"]
            header = jwt.get_unverified_header(token)
            assert header["alg"] == algorithm and [k["kid"] for k in keys] == [header["kid"]]
            assert keys[0]["use"] == "sig" and "d" not in keys[0]  # public only
            public = jwt.PyJWK(keys[0]).key
            assert jwt.decode(token, public, algorithms=[algorithm])["sub"] == "svc:registrar-tool"
            got = client.get("/api/students/f000abc", headers={"Authorization": f"Bearer {token}"})
            assert got.status_code == 200
            with client.websocket_connect("/graphql", ["graphql-transport-ws"]) as ws:
                ws.send_json(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
                assert ws.receive_json() == {"type": "connection_ack"}

    async def test_another_instance_verifies_them_with_the_published_keys(
        self, signing_settings, sessions, session, clock
    ):
        """Another studentgraph holding the minting instance's published keys in
        JWT_ACCEPTED_PUBLIC_KEYS takes its service accounts' tokens; one that reads them
        through JWT_JWKS_URL (an identity provider's keys) refuses their `svc:` subjects."""
        algorithm, settings = signing_settings
        await make_student(session, netid="f000abc")
        await session.commit()
        key = await account_with_key(sessions)
        with TestClient(create_app(settings, clock=clock)) as minting:
            token = minting.post("/api/jwt?scope=" + READ, headers={"Authorization": key.key})
            published = minting.get("/.well-known/jwks.json").content
        bearer = {"Authorization": f"Bearer {token.json()['jwt']}"}
        server = _serve(published)
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
            for mode, status in (
                ({"jwt_accepted_public_keys": published.decode()}, 200),
                ({"jwt_jwks_url": url}, 401),
            ):
                verifying = settings.model_copy(
                    update={"jwt_private_key": None, "jwt_algorithms": [algorithm], **mode}
                )
                with TestClient(create_app(verifying, clock=clock)) as client:
                    got = client.get("/api/students/f000abc", headers=bearer)
                    assert got.status_code == status, mode
        finally:
            server.shutdown()

    async def test_without_a_private_key_the_configured_hs_algorithm_signs(
        self, settings, sessions, clock
    ):
        key = await account_with_key(sessions)
        hs512 = settings.model_copy(update={"jwt_algorithms": ["HS512"]})
        with TestClient(create_app(hs512, clock=clock)) as client:
            minted = client.post(
                "/api/jwt", params={"scope": READ}, headers={"Authorization": key.key}
            )
            token = minted.json()["jwt"]
            read = client.get("/api/students/nobody", headers={"Authorization": f"Bearer {token}"})
        assert jwt.get_unverified_header(token)["alg"] == "HS512"
        assert read.status_code == 404  # accepted: the route answered, not a 401

    async def test_production_without_a_private_key_mints_nothing(self, settings, sessions, clock):
        key = await account_with_key(sessions)
        production = settings.model_copy(update={"environment": "production"})
        with TestClient(create_app(production, clock=clock)) as client:
            response = client.post("/api/jwt", headers={"Authorization": key.key})
            assert client.get("/.well-known/jwks.json").json() == {"keys": []}
        assert response.status_code == 503 and "JWT_PRIVATE_KEY" in response.text


def _serve(body: bytes) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class TestKeys:
    async def test_keys_are_kept_only_as_a_hash(self, sessions):
        key = await account_with_key(sessions, expires=date.today() + timedelta(days=30))
        async with sessions() as session:
            (row,) = await accounts.keys(session)
        secret = key.key[len("sgk_") + 13 :]
        assert row.id == key.key_id and len(secret) == 43
        assert secret not in str(tuple(row)) and key.key_hash != key.key
        assert row.expires_at == datetime.combine(
            date.today() + timedelta(days=31), datetime.min.time(), UTC
        )

    async def test_an_expiry_in_the_past_is_refused(self, sessions):
        async with transaction(sessions) as session:
            await accounts.create_account(session, "a", [READ])
        with pytest.raises(accounts.Invalid, match="past"):
            async with transaction(sessions) as session:
                await accounts.create_key(session, "a", expires=date.today() - timedelta(days=1))


class TestSigningSettings:
    def test_a_key_that_is_not_pem_is_named_at_start(self):
        with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY is not a PEM private key"):
            Settings(jwt_private_key="-----BEGIN NOTHING-----")

    def test_its_algorithm_must_be_accepted_too(self):
        key = pem(ec.generate_private_key(ec.SECP256R1()))
        with pytest.raises(ValidationError, match="signs ES256: add it to JWT_ALGORITHMS"):
            Settings(jwt_private_key=key, jwt_algorithms=["HS256"])
        assert Settings(jwt_private_key=key, jwt_algorithms=["ES256", "HS256"]).jwt_private_key

    def test_only_rsa_or_p256(self):
        key = pem(ec.generate_private_key(ec.SECP384R1()))
        with pytest.raises(ValidationError, match="RSA or EC P-256"):
            Settings(jwt_private_key=key, jwt_algorithms=["ES256"])


def _public_jwks(private_pem: str) -> str:
    """What `studentgraph jwks --key` prints for a key (tests/cli/test_accounts.py)."""
    from app.domain.signing_keys import load_signing_key

    return json.dumps({"keys": [load_signing_key(private_pem).jwk]})


class TestRotation:
    """docs/operations/runbook.md: rotating the signing key with no token refused at any step."""

    async def test_old_and_new_tokens_are_accepted_throughout(
        self, signing_settings, sessions, session, clock
    ):
        algorithm, settings = signing_settings
        await make_student(session, netid="f000abc")
        await session.commit()
        key = await account_with_key(sessions)
        new_pem = pem(
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if algorithm == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )

        def step(**update):
            return TestClient(create_app(settings.model_copy(update=update), clock=clock))

        def mint(client):
            return client.post("/api/jwt?scope=" + READ, headers={"Authorization": key.key})

        def accepted(client, token):
            bearer = {"Authorization": f"Bearer {token}"}
            return client.get("/api/students/f000abc", headers=bearer).status_code == 200

        with step() as before:
            old_token = mint(before).json()["jwt"]
            old_jwks = before.get("/.well-known/jwks.json").text
        # 1. The next key published and accepted everywhere before anything signs with it.
        with step(jwt_accepted_public_keys=_public_jwks(new_pem)) as announcing:
            published = announcing.get("/.well-known/jwks.json").json()["keys"]
            assert len(published) == 2 and published[0] == json.loads(old_jwks)["keys"][0]
            assert accepted(announcing, old_token)
        # 2. The new key signs; the old one, as it was published, is still accepted.
        with step(jwt_private_key=new_pem, jwt_accepted_public_keys=old_jwks) as rotated:
            new_token = mint(rotated).json()["jwt"]
            assert (
                jwt.get_unverified_header(new_token)["kid"]
                != jwt.get_unverified_header(old_token)["kid"]
            )
            assert accepted(rotated, old_token) and accepted(rotated, new_token)
            kids = [k["kid"] for k in rotated.get("/.well-known/jwks.json").json()["keys"]]
            assert kids[1] == jwt.get_unverified_header(old_token)["kid"]
        with step(jwt_accepted_public_keys=_public_jwks(new_pem)) as not_yet_restarted:
            assert accepted(not_yet_restarted, new_token)  # an instance still on step 1
        # 3. Once the old tokens have expired, the old key goes: its tokens are refused.
        with step(jwt_private_key=new_pem) as after:
            assert accepted(after, new_token) and not accepted(after, old_token)
            assert len(after.get("/.well-known/jwks.json").json()["keys"]) == 1


class TestAcceptedKeysSettings:
    def test_each_problem_is_named(self):
        rsa_pem = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        private_jwk = json.loads(_public_jwks(rsa_pem))["keys"][0] | {"d": "x"}
        for value, message in (
            ("not json", "must be a JWKS document"),
            ('{"keys": [{"kty": "RSA"}]}', r"keys\[0\] needs a `kid` and an `alg`"),
            (json.dumps({"keys": [private_jwk]}), "holds a private key"),
            (_public_jwks(rsa_pem), "is RS256: add it to JWT_ALGORITHMS"),
        ):
            with pytest.raises(ValidationError, match=message):
                Settings(jwt_accepted_public_keys=value, jwt_algorithms=["HS256", "ES256"])

    def test_a_key_id_may_name_one_key(self):
        rsa_pem = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        with pytest.raises(ValidationError, match="is used twice"):
            Settings(
                jwt_private_key=rsa_pem,
                jwt_accepted_public_keys=_public_jwks(rsa_pem),
                jwt_algorithms=["RS256"],
            )
