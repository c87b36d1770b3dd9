"""Hostile tokens: every refused token gets the same 401 body at every door (which check failed
goes to the log, never to the client), and a slow identity provider stalls no one else."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth import STUDENTS_READ
from app.main import create_app
from tests.hostile import assert_clean
from tests.hostile.test_brakes import serving
from tests.rest.test_jwt import _public_jwks, _serve, pem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}."


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "f003ghc", "scope": STUDENTS_READ, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(settings, **overrides) -> str:
    return jwt.encode(_claims(**overrides), settings.jwt_secret, "HS256")


def _nested_claims(settings) -> str:
    """Signed with the right secret, claims nested past the JSON parser's recursion limit."""
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64(b'{"sub":"f003ghc","x":' + b"[" * 5000 + b"]" * 5000 + b"}")
    signing_input = f"{header}.{payload}".encode()
    signature = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(
        signing_input, settings.jwt_secret.encode()
    )
    return f"{header}.{payload}.{_b64(signature)}"


def bad_tokens(settings) -> dict[str, dict[str, str] | list[tuple[str, str]]]:
    good = _signed(settings)
    head = good.split(".")[0]
    return {
        "no Authorization header": {},
        "Bearer and nothing": {"Authorization": "Bearer "},
        "another scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "not a JWT": {"Authorization": "Bearer not.a.jwt"},
        "alg none": {"Authorization": "Bearer " + _unsigned({"alg": "none"}, _claims())},
        "alg NoNe": {"Authorization": "Bearer " + _unsigned({"alg": "NoNe"}, _claims())},
        "a 10,000-character alg": {
            "Authorization": "Bearer " + _unsigned({"alg": "A" * 10000}, _claims())
        },
        "another secret": {"Authorization": "Bearer " + jwt.encode(_claims(), "x" * 40, "HS256")},
        "an algorithm outside the allow-list": {
            "Authorization": "Bearer " + jwt.encode(_claims(), settings.jwt_secret, "HS512")
        },
        "a truncated signature": {"Authorization": "Bearer " + good[:-5]},
        "claims swapped under a valid signature": {
            "Authorization": f"Bearer {head}.{_b64(orjson.dumps(_claims(sub='admin')))}."
            + good.split(".")[2]
        },
        "expired, under another secret": {
            "Authorization": "Bearer " + jwt.encode(_claims(exp=int(time.time()) - 3600), "x" * 40)
        },
        "not yet valid": {
            "Authorization": "Bearer " + _signed(settings, nbf=int(time.time()) + 3600)
        },
        "exp as a string": {
            "Authorization": "Bearer " + _signed(settings, exp=str(int(time.time()) + 600))
        },
        "iat as a string": {"Authorization": "Bearer " + _signed(settings, iat="yesterday")},
        "no sub": {"Authorization": "Bearer " + _signed(settings, sub=None)},
        "a numeric sub": {"Authorization": "Bearer " + _signed(settings, sub=12345)},
        "a 200-character sub": {"Authorization": "Bearer " + _signed(settings, sub="s" * 200)},
        "a NUL in sub": {"Authorization": "Bearer " + _signed(settings, sub="f003\u0000ghc")},
        "a NUL in name": {"Authorization": "Bearer " + _signed(settings, name="a\u0000b")},
        "an exp no float can hold (10**400)": {
            "Authorization": "Bearer " + _signed(settings, exp=10**400)
        },
        "an nbf no float can hold": {
            "Authorization": "Bearer " + _signed(settings, nbf=-(10**400))
        },
        "a scope claim that is a number": {
            "Authorization": "Bearer " + _signed(settings, scope=42)
        },
        "claims nested 5,000 deep": {"Authorization": "Bearer " + _nested_claims(settings)},
        "two Authorization headers": [
            ("Authorization", "Bearer " + good),
            ("Authorization", "Bearer " + good),
        ],
    }


DOORS = [
    ("GET", "/api/academic/plans"),
    ("GET", "/api/students/f000abc/terms"),
    ("POST", "/graphql"),
]


@pytest.mark.parametrize(("method", "path"), DOORS)
async def test_every_refused_token_gets_one_answer(client, settings, sql_counter, method, path):
    bodies = set()
    for name, headers in bad_tokens(settings).items():
        response = await client.request(
            method, path, headers=headers, json={"query": "{ dplanCodes { id } }"}
        )
        assert response.status_code == 401, (name, response.text)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', name
        assert "A" * 50 not in response.text, name  # nothing the client sent is echoed
        assert_clean(response)
        bodies.add(response.content)
    assert len(bodies) == 1, bodies
    assert sql_counter.count == 0


GENERIC = 'Bearer error="invalid_token"'
EXPIRED = 'Bearer error="invalid_token", error_description="expired"'


@pytest.mark.parametrize(("method", "path"), DOORS)
async def test_an_expired_token_is_told_so_and_only_it(client, settings, method, path):
    """RFC 6750's error_description for a token that was good until its `exp`: a client (or
    GraphiQL's user) knows to get a new one. It says nothing a forger can use: forged, malformed
    and unknown-key tokens, expired or not, keep the one answer above."""
    expired = _signed(settings, exp=int(time.time()) - 3600)
    forged = jwt.encode(_claims(exp=int(time.time()) - 3600), "x" * 40, "HS256")
    answers = {}
    for name, token in (("expired", expired), ("forged", forged), ("malformed", "not.a.jwt")):
        response = await client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {token}"},
            json={"query": "{ dplanCodes { id } }"},
        )
        assert response.status_code == 401, (name, response.text)
        answers[name] = (response.headers["www-authenticate"], response.content)
    assert answers["expired"][0] == EXPIRED
    assert "expired" in answers["expired"][1].decode()
    assert answers["forged"] == answers["malformed"]
    assert answers["forged"][0] == GENERIC and b"expired" not in answers["forged"][1]


async def test_an_expired_token_seen_before_is_told_so_too(client, settings):
    """A token verified once is remembered until its `exp`: the remembered path says it too."""
    # Within JWT_LEEWAY_SECONDS of its exp for two more seconds.
    token = _signed(settings, exp=int(time.time()) - settings.jwt_leeway_seconds + 2)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/academic/plans", headers=headers)).status_code == 200
    await asyncio.sleep(3)
    response = await client.get("/api/academic/plans", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == EXPIRED


def test_the_corpus_is_large_enough(settings):
    assert len(bad_tokens(settings)) >= 15


async def test_the_reason_goes_to_the_log(client, settings, caplog):
    with caplog.at_level(logging.INFO, logger="app"):
        await client.get(
            "/api/academic/plans",
            headers={"Authorization": "Bearer " + _signed(settings, exp="soon")},
        )
    reasons = [r.reason for r in caplog.records if hasattr(r, "reason")]
    assert any("exp" in reason for reason in reasons), reasons


# --- a slow identity provider -----------------------------------------------------------------


class _SlowJwks:
    """A JWKS endpoint that answers only when released: while it holds a fetch, the app must
    keep answering everything that needs no fetch."""

    def __init__(self, jwk: dict) -> None:
        self.asked, self.release = threading.Event(), threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.asked.set()
                outer.release.wait(10)
                body = json.dumps({"keys": [jwk]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


async def test_a_slow_jwks_fetch_stalls_no_one(settings, clock):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = _SlowJwks({**jwk, "kid": "k1", "alg": "RS256", "use": "sig"})
    try:
        app_settings = settings.model_copy(
            update={"jwt_algorithms": ["RS256"], "jwt_jwks_url": jwks.url}
        )
        app = create_app(app_settings, clock=clock)
        token = jwt.encode(_claims(), key, "RS256", headers={"kid": "k1"})
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            waiting = asyncio.create_task(
                client.get("/api/academic/plans", headers={"Authorization": f"Bearer {token}"})
            )
            await asyncio.to_thread(jwks.asked.wait, 5)
            # The fetch is held: if it blocked the event loop this would never be answered.
            health = await asyncio.wait_for(client.get("/healthz"), 5)
            assert health.status_code == 200 and not waiting.done()
            jwks.release.set()
            assert (await waiting).status_code == 200
    finally:
        jwks.close()


# --- keys of two types: the documented rotation (RS256 signing, ES256 next) and a JWKS ------


def _jwk(public_key, kid: str, alg: str) -> dict:
    algorithm = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    return {**algorithm.to_jwk(public_key, as_dict=True), "kid": kid, "alg": alg, "use": "sig"}


class _TwoTypes:
    """An instance with JWT_ALGORITHMS="RS256 ES256 HS256": it signs with an RSA key, accepts an
    EC P-256 one (a rotation's next key, JWT_ACCEPTED_PUBLIC_KEYS) and an identity provider's
    JWKS of one RSA and one EC key."""

    def __init__(self, settings) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.idp_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.idp_ec = ec.generate_private_key(ec.SECP256R1())
        idp = [
            _jwk(self.idp_rsa.public_key(), "idp-rsa", "RS256"),
            _jwk(self.idp_ec.public_key(), "idp-ec", "ES256"),
        ]
        self.server = _serve(orjson.dumps({"keys": idp}))
        self.ours = json.loads(_public_jwks(pem(self.rsa)))["keys"][0]["kid"]
        self.next = json.loads(_public_jwks(pem(self.ec)))["keys"][0]["kid"]
        self.settings = settings.model_copy(
            update={
                "jwt_algorithms": ["RS256", "ES256", "HS256"],
                "jwt_private_key": pem(self.rsa),
                "jwt_accepted_public_keys": _public_jwks(pem(self.ec)),
                "jwt_jwks_url": f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json",
            }
        )

    def token(self, key, alg: str, kid: object, sub: str = "f003ghc", **header: object) -> str:
        return jwt.encode(_claims(sub=sub), key, alg, headers={"kid": kid, **header})

    def good(self) -> dict[str, str]:
        return {
            "our signing key": self.token(self.rsa, "RS256", self.ours, sub="svc:tool"),
            "our next key": self.token(self.ec, "ES256", self.next, sub="svc:tool"),
            "the IdP's RSA key": self.token(self.idp_rsa, "RS256", "idp-rsa"),
            "the IdP's EC key": self.token(self.idp_ec, "ES256", "idp-ec"),
        }

    def bad(self) -> dict[str, str]:
        return {
            # alg ES256, kid naming our RSA signing key (PyJWT: TypeError, a 500)
            "ES256 naming our RSA key": self.token(self.ec, "ES256", self.ours, sub="svc:tool"),
            "RS256 naming our EC next key": self.token(self.rsa, "RS256", self.next, sub="svc:a"),
            "ES256 naming the JWKS's RSA key": self.token(self.idp_ec, "ES256", "idp-rsa"),
            "RS256 naming the JWKS's EC key": self.token(self.idp_rsa, "RS256", "idp-ec"),
            "a kid that is a list": _unsigned({"alg": "RS256", "kid": ["idp-rsa"]}, _claims())
            + "c2ln",
            "a kid that is an object": _unsigned({"alg": "ES256", "kid": {"a": 1}}, _claims())
            + "c2ln",
            "a 100,000-character kid": self.token(self.idp_rsa, "RS256", "k" * 100_000),
            "a 1 MB header, forged": self.token(
                self.idp_rsa, "RS256", self.ours, x="h" * 1_000_000
            ),
        }


TWO_TYPES_BAD = [
    "ES256 naming our RSA key",
    "RS256 naming our EC next key",
    "ES256 naming the JWKS's RSA key",
    "RS256 naming the JWKS's EC key",
    "a kid that is a list",
    "a kid that is an object",
    "a 100,000-character kid",
    "a 1 MB header, forged",
]


@pytest.fixture
def two_types(settings):
    instance = _TwoTypes(settings)
    yield instance
    instance.server.shutdown()


async def test_each_key_verifies_its_own_tokens(two_types, clock):
    async with serving(two_types.settings, clock) as client:
        for name, token in two_types.good().items():
            bearer = {"Authorization": f"Bearer {token}"}
            response = await client.get("/api/academic/plans", headers=bearer)
            assert response.status_code == 200, (name, response.text)


@pytest.mark.parametrize("name", TWO_TYPES_BAD)
async def test_a_token_naming_a_key_of_another_type_gets_the_one_401(two_types, clock, name):
    token = two_types.bad()[name]
    query = {"query": "{ dplanCodes { id } }"}
    async with serving(two_types.settings, clock) as client:
        for method, path in DOORS:
            expected = await client.request(method, path, json=query)  # no token at all
            bearer = {"Authorization": f"Bearer {token}"}
            response = await client.request(method, path, headers=bearer, json=query)
            assert response.status_code == 401, (path, response.text[:300])
            assert_clean(response)
            assert response.content == expected.content, path
