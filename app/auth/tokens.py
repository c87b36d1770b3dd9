"""Verify bearer JWTs against an allow-list of algorithms; mint development tokens."""

from __future__ import annotations

import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import jwt

from app.auth.principal import Principal, parse_scopes
from app.config import Settings
from app.errors import Unauthenticated


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


def _verification_key(token: str, algorithm: str, settings: Settings) -> Any:
    if algorithm.startswith("HS"):
        return settings.jwt_secret
    if settings.jwt_jwks_url:
        return _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
    if settings.jwt_public_key:
        return settings.jwt_public_key
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
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwt_leeway_seconds,
    )


def verify(token: str, settings: Settings) -> Principal:
    """The Principal a token stands for; `Unauthenticated` for anything not a valid token."""
    key = (token, _judged_by(settings))
    principal = _VERIFIED.get(key)
    if principal is None:
        principal = _verify_signature(token, settings)
        _VERIFIED[key] = principal
        if len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    elif time.time() > float(principal.claims["exp"]) + settings.jwt_leeway_seconds:
        del _VERIFIED[key]
        raise Unauthenticated("the token has expired")
    return principal


def _verify_signature(token: str, settings: Settings) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        # Never trust the token's own choice: `none`, or HS256 signed with a public key, fail here.
        if algorithm not in settings.jwt_algorithms:
            raise Unauthenticated(f"token algorithm {algorithm!r} is not accepted")
        claims = jwt.decode(
            token,
            _verification_key(token, algorithm, settings),
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
        )
        scope_claim = claims.get("scope")
        scopes = parse_scopes(scope_claim)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the token has expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthenticated(f"the token is not valid: {exc}") from exc
    order = scope_claim.replace(",", " ").split() if isinstance(scope_claim, str) else scope_claim
    return Principal(
        sub=str(claims["sub"]), scopes=scopes, claims=claims, scope_order=tuple(order or ())
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
    """A development token signed with the configured HS secret (refused in production)."""
    if settings.environment == "production":
        raise RuntimeError("development tokens cannot be minted in production")
    algorithm = next((a for a in settings.jwt_algorithms if a.startswith("HS")), None)
    if algorithm is None:
        raise RuntimeError("minting needs an HS algorithm in JWT_ALGORITHMS")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + (lifetime_seconds or settings.token_lifetime_seconds),
    }
    optional = {"name": name, "email": email, "iss": settings.jwt_issuer}
    claims.update({k: v for k, v in optional.items() if v is not None})
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)


def bearer_token(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer ...` header."""
    if not authorization:
        raise Unauthenticated("no bearer token was sent (Authorization: Bearer <jwt>)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <jwt>`")
    return token.strip()
