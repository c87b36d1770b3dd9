"""A PEM private key that signs tokens: its algorithm (RSA: RS256, EC P-256: ES256), its key id
(RFC 7638 thumbprint unless given) and its public half as a JWK. Parsed once per key."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWKError


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    kid: str
    private_key: Any
    public_key: Any
    jwk: dict[str, Any]  # the public key as published


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    required = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = orjson.dumps({k: jwk[k] for k in required}, option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def load_signing_key(pem: str, kid: str | None = None) -> SigningKey:
    """The key, its algorithm and its published JWK; ValueError for anything else."""
    try:
        private_key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("JWT_PRIVATE_KEY is not a PEM private key (without a password)") from exc
    jwk: dict[str, Any]
    if isinstance(private_key, rsa.RSAPrivateKey):
        public_key: Any = private_key.public_key()
        algorithm, jwk = "RS256", RSAAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
        private_key.curve, ec.SECP256R1
    ):
        public_key = private_key.public_key()
        algorithm, jwk = "ES256", ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        raise ValueError("JWT_PRIVATE_KEY must be an RSA or EC P-256 private key")
    kid = kid or _thumbprint(jwk)
    published = {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}
    return SigningKey(algorithm, kid, private_key, public_key, published)


@dataclass(frozen=True)
class PublicKey:
    """A public key whose tokens are accepted and which is published beside the signing key's:
    the previous signing key after a rotation, or the next one before it signs."""

    algorithm: str
    kid: str
    public_key: Any
    jwk: dict[str, Any]


ACCEPTED_KEY_ALGORITHMS = ("RS256", "ES256")


@lru_cache(maxsize=4)
def load_public_keys(jwks_json: str) -> tuple[PublicKey, ...]:
    """The keys of a JWKS document (what /.well-known/jwks.json served), each with its `kid`
    and `alg` (RS256 or ES256) and no private part; ValueError naming the problem otherwise."""
    what = "JWT_ACCEPTED_PUBLIC_KEYS"
    try:
        document = orjson.loads(jwks_json)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{what} must be a JWKS document (JSON with a `keys` list)") from exc
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise ValueError(f"{what} must be a JWKS document (JSON with a `keys` list)")
    loaded: list[PublicKey] = []
    for index, jwk in enumerate(keys):
        where = f"{what}: keys[{index}]"
        if not isinstance(jwk.get("kid"), str) or jwk.get("alg") not in ACCEPTED_KEY_ALGORITHMS:
            raise ValueError(f"{where} needs a `kid` and an `alg` of RS256 or ES256")
        if "d" in jwk:
            raise ValueError(f"{where} holds a private key: publish only public keys")
        try:
            public_key = PyJWK(jwk).key
        except (PyJWKError, ValueError, TypeError) as exc:
            raise ValueError(f"{where} is not a valid {jwk['alg']} public key") from exc
        loaded.append(PublicKey(jwk["alg"], jwk["kid"], public_key, dict(jwk)))
    return tuple(loaded)
