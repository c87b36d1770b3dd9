"""Verify bearer JWTs against an allow-list of algorithms; mint development tokens."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from app.auth.principal import SERVICE_ACCOUNT_PREFIX, Principal, parse_scopes
from app.auth.signing import hs_algorithm, mints_with_secret, own_public_key, token_claims
from app.config import Settings
from app.errors import TokenExpired, Unauthenticated


@lru_cache(maxsize=4)
def _jwks_client(url: str, timeout: float) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=timeout)


# The type of key object each family of algorithms verifies with.
KEY_TYPES: dict[str, type] = {"RS": RSAPublicKey, "PS": RSAPublicKey, "ES": EllipticCurvePublicKey}


def _fitting(algorithm: str, key: Any, where: str) -> Any:
    """The key, if it is of the type the token's algorithm verifies with. PyJWT raises a
    TypeError (not one of its errors: a 500) for a key object of another type, which a token
    reaches by naming, in `kid`, a key of the other type than its `alg` (an RS256 signing key
    beside an ES256 one of a rotation, or a JWKS holding both)."""
    wanted = KEY_TYPES.get(algorithm[:2])
    if wanted is None or not isinstance(key, wanted):
        raise Unauthenticated(f"a {algorithm} token names a {type(key).__name__} ({where})")
    return key


# Who signs with a key: studentgraph's POST /api/jwt (JWT_PRIVATE_KEY, a rotation's accepted
# keys), JWT_SECRET (this instance's service accounts' outside production without a private key;
# otherwise an identity provider's), or an identity provider (the JWKS, JWT_PUBLIC_KEY).
Signer = Literal["ours", "secret", "idp"]


async def _verification_key(
    token: str, header: dict[str, Any], settings: Settings
) -> tuple[Any, Signer]:
    algorithm = str(header.get("alg"))
    if algorithm.startswith("HS"):
        return settings.jwt_secret, "secret"
    own = own_public_key(settings, header.get("kid"))
    if own is not None:  # minted here, at POST /api/jwt
        return _fitting(algorithm, own, "a key of ours"), "ours"
    if settings.jwt_jwks_url:
        # PyJWKClient fetches with urllib, which blocks: in a thread, with a timeout, so a slow
        # identity provider delays only the tokens whose key it must fetch; keys it already
        # holds keep being served meanwhile.
        client = _jwks_client(settings.jwt_jwks_url, settings.jwt_jwks_timeout_seconds)
        try:
            found = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated(f"no key for this token from the JWKS: {exc}") from exc
        return _fitting(algorithm, found.key, "a key of the JWKS"), "idp"
    if settings.jwt_public_key:
        return settings.jwt_public_key, "idp"  # PEM: PyJWT raises InvalidKeyError for another type
    raise Unauthenticated(f"no key is configured for {algorithm} tokens")


# Verified tokens, so a client's every request does not pay for a signature check: keyed by the
# token and the settings that judged it; a hit is re-checked for expiry. Failures are not cached.
_VERIFIED: OrderedDict[tuple[str, tuple[object, ...]], Principal] = OrderedDict()
_VERIFIED_MAX = 4096


def _judged_by(settings: Settings) -> tuple[object, ...]:
    return (
        tuple(settings.jwt_algorithms),
        settings.jwt_secret,
        settings.jwt_public_key,
        settings.jwt_jwks_url,
        settings.jwt_private_key,
        settings.jwt_accepted_public_keys,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwt_leeway_seconds,
    )


async def verify(token: str, settings: Settings) -> Principal:
    """The Principal a token stands for; `Unauthenticated` for anything not a valid token."""
    key = (token, _judged_by(settings))
    principal = _VERIFIED.get(key)
    if principal is None:
        principal = await _verify_signature(token, settings)
        _VERIFIED[key] = principal
        if len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    elif time.time() > float(principal.claims["exp"]) + settings.jwt_leeway_seconds:
        del _VERIFIED[key]
        raise TokenExpired()
    return principal


MAX_SUB_LENGTH = 128  # what a task's requester and a found set's owner can hold
NUMERIC_DATES = ("exp", "iat", "nbf")
# A NumericDate's largest magnitude: exact as a float (year 285 million). A larger integer is
# no float at all (`math.isfinite(10**400)` raises OverflowError: it was a 500).
MAX_NUMERIC_DATE = 2**53


def check_claims(claims: dict[str, Any]) -> None:
    """What the signature cannot vouch for: `sub` a printable string of 1 to 128 characters
    (it is stored), NumericDates numbers of at most 2^53 (PyJWT would also take `"exp":
    "9999999999"`, and `10**400`), and no NUL anywhere (PostgreSQL's json cannot hold one)."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUB_LENGTH or not sub.isprintable():
        raise Unauthenticated(f"sub must be a printable string of 1 to {MAX_SUB_LENGTH} characters")
    for name in NUMERIC_DATES:
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE  # False for nan too
        ):
            raise Unauthenticated(f"{name} must be a NumericDate (a number of at most 2^53)")
    pending: list[Any] = [claims]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            raise Unauthenticated("a claim holds a NUL character")
        if isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def check_subject(sub: str, signer: Signer, settings: Settings) -> None:
    """A `svc:` sub only from a key service accounts' tokens are signed with, and every token
    of our own signing keys a service account's: an identity provider cannot make a person a
    service account, and a token minted before service accounts had `svc:` subjects (its `sub`
    the bare account name, a person's if one is so named) is refused."""
    service = sub.startswith(SERVICE_ACCOUNT_PREFIX)
    if signer == "ours" and not service:
        raise Unauthenticated(
            f"a token of our signing key whose sub is not {SERVICE_ACCOUNT_PREFIX}"
        )
    ours = signer == "ours" or (signer == "secret" and mints_with_secret(settings))
    if service and not ours:
        raise Unauthenticated(f"a {SERVICE_ACCOUNT_PREFIX} sub from an identity provider's key")


async def _verify_signature(token: str, settings: Settings) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        # Never trust the token's own choice: `none`, or HS256 signed with a public key, fail here.
        if algorithm not in settings.jwt_algorithms:
            raise Unauthenticated(f"token algorithm {str(algorithm)[:40]!r} is not accepted")
        key, signer = await _verification_key(token, header, settings)
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
        )
        check_claims(claims)
        check_subject(claims["sub"], signer, settings)
        scope_claim = claims.get("scope")
        scopes = parse_scopes(scope_claim)
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except (jwt.PyJWTError, ValueError, RecursionError) as exc:
        raise Unauthenticated(f"the token is not valid: {exc!r}"[:200]) from exc
    order = scope_claim.replace(",", " ").split() if isinstance(scope_claim, str) else scope_claim
    return Principal(
        sub=claims["sub"], scopes=scopes, claims=claims, scope_order=tuple(order or ())
    )


def mint(
    settings: Settings,
    *,
    sub: str,
    scopes: list[str],
    name: str | None = None,
    email: str | None = None,
    lifetime_seconds: int | None = None,
) -> str:
    """A development token signed with the configured HS secret (refused in production), for a
    person: a `svc:` subject is a service account's (POST /api/jwt mints those)."""
    if settings.environment == "production":
        raise RuntimeError("development tokens cannot be minted in production")
    if sub.startswith(SERVICE_ACCOUNT_PREFIX):
        raise ValueError(
            f"a {SERVICE_ACCOUNT_PREFIX} sub is a service account's: exchange its API key at "
            "POST /api/jwt"
        )
    algorithm = hs_algorithm(settings)
    if algorithm is None:
        raise RuntimeError("minting needs an HS algorithm in JWT_ALGORITHMS")
    lifetime = lifetime_seconds or settings.token_lifetime_seconds
    claims = token_claims(
        settings, sub=sub, scopes=scopes, lifetime_seconds=lifetime, name=name, email=email
    )
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)


def bearer_token(authorization: str | list[str] | None) -> str:
    """The token from an `Authorization: Bearer ...` header (one: two are refused, since the
    two parts of a system may each read another of them)."""
    if isinstance(authorization, list):
        if len(authorization) > 1:
            raise Unauthenticated("more than one Authorization header")
        authorization = authorization[0] if authorization else None
    if not authorization:
        raise Unauthenticated("no bearer token was sent (Authorization: Bearer <jwt>)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <jwt>`")
    return token.strip()
