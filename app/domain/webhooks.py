"""Webhooks' pure rules: which URLs may be called, and how a delivery is signed.

Signature: HMAC-SHA256 with a secret of the webhook's own, in the Standard Webhooks form
(https://www.standardwebhooks.com): headers `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 of HMAC(secret, "<id>.<timestamp>.<body>")>`. Chosen over a JWS
signed with the service's key (verifiable at /.well-known/jwks.json) because a receiver checks
it with one constant-time comparison of bytes it already has: no key set to fetch, cache and
rotate, no JOSE library, and the body is signed exactly as sent. A secret belongs to one
webhook, so a receiver that leaks it exposes only its own deliveries, and the service's signing
key never has to exist beside the workers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
# Cloud instance metadata services that are not link-local (169.254.169.254 is).
METADATA = {
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud
}


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header of one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether one of the header's signatures (space-separated) is this delivery's."""
    expected = signature(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in header.split())


def url_problem(url: str) -> str | None:
    """What is wrong with a webhook URL as written (None: nothing)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "names no host"
    if parts.username or parts.password:
        return "must not hold credentials (the deliveries are signed instead)"
    if len(url) > 2000:
        return "is longer than 2000 characters"
    return None


def address_refused(address: str) -> str | None:
    """Why a webhook may not call `address` (an IP address), unless allowed: None when it may."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return f"{ip} is a cloud metadata address"
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata lives there)"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not an address a webhook can call"
    return None
