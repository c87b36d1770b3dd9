"""API keys: `sgk_<id>_<secret>`. The id (12 hex characters) finds the key's record without
revealing anything; the secret is 32 random bytes. Only a SHA-256 of the whole key is stored: a
key is random and long, so a fast hash is as safe as a slow one (slow hashes guard guessable
passwords), and checking one costs microseconds."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "sgk_"
_PATTERN = re.compile(r"sgk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    key: str  # shown once, never stored
    key_hash: str


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id, key, hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id inside a well-formed key; None for anything else."""
    match = _PATTERN.fullmatch(key)
    return match.group(1) if match else None


def matches(key: str, key_hash: str) -> bool:
    """Whether `key` is the one `key_hash` was made from, in constant time."""
    return hmac.compare_digest(hash_key(key), key_hash)
