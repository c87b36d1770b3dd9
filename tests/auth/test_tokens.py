"""JWT verification: the algorithm allow-list, keys, claims and the scope claim's forms."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth.principal import parse_scopes
from app.auth.tokens import bearer_token, mint, verify
from app.config import Settings
from app.errors import Unauthenticated


def _claims(**extra):
    now = int(time.time())
    return {"sub": "f003ghc", "scope": "a b", "iat": now, "exp": now + 60, **extra}


def _pem_pair(private_key):
    private = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


class TestParseScopes:
    @pytest.mark.parametrize(
        "claim",
        ["a b", "a,b", "a, b", " a  b ", ["a", "b"], ("a", "b")],
    )
    def test_forms(self, claim):
        assert parse_scopes(claim) == frozenset({"a", "b"})

    def test_missing_is_empty(self):
        assert parse_scopes(None) == frozenset()

    def test_wrong_type_is_refused(self):
        with pytest.raises(ValueError):
            parse_scopes(42)


class TestVerify:
    async def test_minted_token_round_trips(self):
        settings = Settings(environment="test")
        token = mint(settings, sub="f003ghc", scopes=["x", "y"], name="N", email="e@x")
        principal = await verify(token, settings)
        assert principal.sub == "f003ghc"
        assert principal.scopes == frozenset({"x", "y"})
        assert principal.scope_order == ("x", "y")
        assert principal.name == "N"

    async def test_scope_as_list_and_comma_string(self):
        settings = Settings(environment="test")
        for claim in (["x", "y"], "x,y"):
            token = jwt.encode(_claims(scope=claim), settings.jwt_secret, algorithm="HS256")
            assert (await verify(token, settings)).scopes == frozenset({"x", "y"})

    async def test_expired(self):
        settings = Settings(environment="test", jwt_leeway_seconds=0)
        token = jwt.encode(_claims(exp=int(time.time()) - 5), settings.jwt_secret, "HS256")
        with pytest.raises(Unauthenticated, match="expired"):
            await verify(token, settings)

    async def test_bad_signature(self):
        settings = Settings(environment="test")
        token = jwt.encode(_claims(), "some-other-secret-of-enough-length!!", "HS256")
        with pytest.raises(Unauthenticated):
            await verify(token, settings)

    async def test_alg_none_is_refused(self):
        settings = Settings(environment="test")
        token = jwt.encode(_claims(), None, algorithm="none")
        with pytest.raises(Unauthenticated, match="not accepted"):
            await verify(token, settings)

    async def test_algorithm_outside_the_allow_list(self):
        settings = Settings(environment="test", jwt_algorithms=["RS256"], jwt_public_key="k")
        token = jwt.encode(_claims(), settings.jwt_secret, "HS256")
        with pytest.raises(Unauthenticated, match="not accepted"):
            await verify(token, settings)

    async def test_missing_sub(self):
        settings = Settings(environment="test")
        claims = _claims()
        del claims["sub"]
        with pytest.raises(Unauthenticated):
            await verify(jwt.encode(claims, settings.jwt_secret, "HS256"), settings)

    async def test_garbage(self):
        with pytest.raises(Unauthenticated):
            await verify("not.a.jwt", Settings(environment="test"))

    @pytest.mark.parametrize(
        ("algorithm", "key"),
        [
            ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
        ],
    )
    async def test_public_key_algorithms(self, algorithm, key):
        private, public = _pem_pair(key())
        settings = Settings(environment="test", jwt_algorithms=[algorithm], jwt_public_key=public)
        token = jwt.encode(_claims(), private, algorithm=algorithm)
        assert (await verify(token, settings)).sub == "f003ghc"
        # The classic confusion attack: HS256 "signed" with the public key is refused.
        forged = jwt.encode(_claims(), "x" * 32, algorithm="HS256")
        with pytest.raises(Unauthenticated):
            await verify(forged, settings)

    async def test_issuer_and_audience(self):
        settings = Settings(environment="test", jwt_issuer="iss-a", jwt_audience="aud-a")
        good = jwt.encode(_claims(iss="iss-a", aud="aud-a"), settings.jwt_secret, "HS256")
        assert (await verify(good, settings)).sub == "f003ghc"
        for bad in (_claims(iss="iss-b", aud="aud-a"), _claims(iss="iss-a", aud="aud-b")):
            with pytest.raises(Unauthenticated):
                await verify(jwt.encode(bad, settings.jwt_secret, "HS256"), settings)


class TestBearerHeader:
    @pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "abc"])
    def test_malformed(self, header):
        with pytest.raises(Unauthenticated):
            bearer_token(header)

    def test_scheme_is_case_insensitive(self):
        assert bearer_token("bearer abc") == "abc"


class TestMint:
    def test_refused_in_production(self):
        settings = Settings(environment="production", jwt_secret="p" * 40)
        with pytest.raises(RuntimeError):
            mint(settings, sub="x", scopes=[])


class TestVerifiedCache:
    async def test_a_cached_token_still_expires(self, monkeypatch):
        settings = Settings(environment="test", jwt_leeway_seconds=0)
        token = jwt.encode(_claims(exp=int(time.time()) + 2), settings.jwt_secret, "HS256")
        assert (await verify(token, settings)).sub == "f003ghc"
        later = time.time() + 10
        monkeypatch.setattr("app.auth.tokens.time.time", lambda: later)
        with pytest.raises(Unauthenticated, match="expired"):
            await verify(token, settings)

    async def test_other_settings_judge_again(self):
        token = jwt.encode(_claims(), "a" * 40, "HS256")
        assert (
            await verify(token, Settings(environment="test", jwt_secret="a" * 40))
        ).sub == "f003ghc"
        with pytest.raises(Unauthenticated):
            await verify(token, Settings(environment="test", jwt_secret="b" * 40))
