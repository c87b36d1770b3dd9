"""Tokens studentgraph mints for its service accounts, and the public keys that verify them.

With `JWT_PRIVATE_KEY` (PEM, RSA or EC P-256) tokens are RS256 or ES256 with a `kid`, and the
public key is published at /.well-known/jwks.json, so other services (and studentgraph's own
`JWT_JWKS_URL` mode) can verify them. Without one, outside production, they are HS256 with
`JWT_SECRET`, like the development tokens."""

from __future__ import annotations

import time
from typing import Any

import jwt

from app.auth.principal import service_account_sub
from app.config import Settings
from app.domain.signing_keys import PublicKey, SigningKey, load_public_keys, load_signing_key
from app.errors import NotConfigured

NOT_MINTING = "this instance mints no tokens: set JWT_PRIVATE_KEY (RS256 or ES256)"


def signing_key(settings: Settings) -> SigningKey | None:
    """The configured private key, parsed once; None when there is none."""
    if not settings.jwt_private_key:
        return None
    return load_signing_key(settings.jwt_private_key, settings.jwt_key_id)


def accepted_keys(settings: Settings) -> tuple[PublicKey, ...]:
    """JWT_ACCEPTED_PUBLIC_KEYS, parsed once: the keys of a rotation beside the signing key."""
    if not settings.jwt_accepted_public_keys:
        return ()
    return load_public_keys(settings.jwt_accepted_public_keys)


def jwks(settings: Settings) -> dict[str, Any]:
    """The signing key's public half first, then the other keys a rotation keeps published."""
    key = signing_key(settings)
    own = [key.jwk] if key else []
    return {"keys": own + [public.jwk for public in accepted_keys(settings)]}


def own_public_key(settings: Settings, kid: object) -> Any | None:
    """The public key of a token minted here (its `kid` names our signing key or one of the
    accepted keys of a rotation), else None."""
    key = signing_key(settings)
    if key is not None and kid == key.kid:
        return key.public_key
    return next((p.public_key for p in accepted_keys(settings) if p.kid == kid), None)


def token_claims(
    settings: Settings, *, sub: str, scopes: list[str], lifetime_seconds: int, **extra: Any
) -> dict[str, Any]:
    """The claims of every token minted here (development tokens and service accounts'):
    `sub`, `scope` (space-separated, possibly empty), `iat`, `exp`, the configured `iss` and
    `aud`, and `extra` claims that are not None."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + lifetime_seconds,
    }
    optional = {**extra, "iss": settings.jwt_issuer, "aud": settings.jwt_audience}
    claims.update({k: v for k, v in optional.items() if v})
    return claims


def hs_algorithm(settings: Settings) -> str | None:
    """The HS algorithm tokens signed with JWT_SECRET use: the first in JWT_ALGORITHMS."""
    return next((a for a in settings.jwt_algorithms if a.startswith("HS")), None)


def mints_with_secret(settings: Settings) -> bool:
    """Whether service accounts' tokens are signed here with JWT_SECRET: outside production,
    without JWT_PRIVATE_KEY (HS tokens are an identity provider's otherwise)."""
    return settings.environment != "production" and not settings.jwt_private_key


def mint_for_account(settings: Settings, account: str, scopes: list[str]) -> str:
    """A token for a service account: `sub` is `svc:<account>`, `name` the account, `scope` the
    accepted scopes, valid `API_JWT_LIFETIME_SECONDS`."""
    lifetime = settings.api_jwt_lifetime_seconds
    sub = service_account_sub(account)
    claims = token_claims(settings, sub=sub, scopes=scopes, lifetime_seconds=lifetime, name=account)
    key = signing_key(settings)
    if key is not None:
        return jwt.encode(
            claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid}
        )
    algorithm = hs_algorithm(settings)
    if not mints_with_secret(settings) or algorithm is None:
        # An HS token this instance's JWT_ALGORITHMS refuses would be refused on every route.
        raise NotConfigured(NOT_MINTING)
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)
