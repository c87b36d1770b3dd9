"""account, apikey: service accounts (DartAPI callers) and their API keys.

`apikey create` prints the key on its last line, once: only a hash is kept. Nothing here ever
prints or logs a key again."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from app.auth.scopes import known_scopes
from app.cli.commands import command, group
from app.cli.data import _run, _settings
from app.domain.signing_keys import load_signing_key
from app.services import accounts


def _scopes(args: argparse.Namespace) -> list[str]:
    return known_scopes(args.scope, loc="--scope")


def _iso(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(value: str) -> str:
    """A field of a tab-separated line that cannot break it: a backslash, tab, line feed and
    carriage return as `\\\\`, `\\t`, `\\n`, `\\r` (PostgreSQL's COPY text format, the IANA TSV
    convention), any other character that is not printable (controls, U+2028) as `\\xNN`,
    `\\uNNNN` or `\\UNNNNNNNN` (Python's escapes): a value a caller chose (a token's `scope`)
    can neither start a forged line nor shift the columns, nor drive a terminal."""
    if value.isprintable() and "\\" not in value:
        return value
    return "".join(
        c
        if c.isprintable() and c != "\\"
        else ESCAPES.get(c) or c.encode("unicode_escape").decode()
        for c in value
    )


def tsv(values: list[str]) -> str:
    return "\t".join(map(_escaped, values))


def account_create(args: argparse.Namespace) -> int:
    """Create the service account NAME with the scopes --scope names (none if omitted)."""
    scopes = _scopes(args)
    _run(_settings(), lambda s: accounts.create_account(s, args.name, scopes))
    print(f"created service account {args.name} with scopes: {' '.join(scopes) or '(none)'}")
    return 0


def account_list(_args: argparse.Namespace) -> int:
    """One tab-separated line per account: name, created, disabled (or -), tokens refused if
    issued before (or -), scopes."""
    for row in _run(_settings(), accounts.accounts):
        times = map(_iso, (row.created_at, row.disabled_at, row.tokens_not_before))
        print(tsv([row.name, *times, " ".join(row.scopes) or "(no scopes)"]))
    return 0


def account_grant(args: argparse.Namespace) -> int:
    """Add the scopes --scope names to the account NAME's; tokens it gets next carry them."""
    scopes = _scopes(args)
    granted = _run(_settings(), lambda s: accounts.grant(s, args.name, scopes))
    print(f"{args.name} now has: {' '.join(granted) or '(none)'}")
    return 0


def account_revoke_scope(args: argparse.Namespace) -> int:
    """Take the scopes --scope names from the account NAME. Tokens already issued keep their
    scopes until they expire, or account revoke-tokens."""
    scopes = _scopes(args)
    kept = _run(_settings(), lambda s: accounts.revoke_scopes(s, args.name, scopes))
    print(f"{args.name} now has: {' '.join(kept) or '(none)'}")
    print("tokens already issued keep their scopes until they expire, or account revoke-tokens")
    return 0


CUTOFF_BOUND = "in force at every API process within two ACCOUNT_CUTOFF_REFRESH_SECONDS"


def account_disable(args: argparse.Namespace) -> int:
    """Refuse the account NAME's keys and every token it holds, in force at every API process
    within two ACCOUNT_CUTOFF_REFRESH_SECONDS."""
    _run(_settings(), lambda s: accounts.disable(s, args.name))
    print(f"disabled {args.name}: its keys and every token it holds are refused, {CUTOFF_BOUND}")
    return 0


def account_enable(args: argparse.Namespace) -> int:
    """Let a disabled account NAME's keys work again; tokens issued before stay refused."""
    _run(_settings(), lambda s: accounts.enable(s, args.name))
    print(f"enabled {args.name}: its keys work again (tokens from before stay refused)")
    return 0


def account_revoke_tokens(args: argparse.Namespace) -> int:
    """Refuse every token the account NAME holds now, in force at every API process within two
    ACCOUNT_CUTOFF_REFRESH_SECONDS; its keys get new ones."""
    _run(_settings(), lambda s: accounts.revoke_tokens(s, args.name))
    print(f"every token {args.name} holds now is refused, {CUTOFF_BOUND}; its keys get new ones")
    return 0


def apikey_create(args: argparse.Namespace) -> int:
    """Make an API key for the account NAME and print it on the last line, once (only its hash
    is kept). The caller exchanges it at POST /api/jwt."""
    work = lambda s: accounts.create_key(s, args.name, expires=args.expires, note=args.note)  # noqa: E731
    key = _run(_settings(), work)
    until = f", usable through {args.expires} (UTC)" if args.expires else ""
    print(f"API key {key.key_id} for {args.name}{until}. It is shown only now; keep it secret:")
    print(key.key)
    return 0


def apikey_list(args: argparse.Namespace) -> int:
    """A header, then one tab-separated line per key: id, account, created, expires, last used,
    revoked (- for none), note. Never the keys themselves."""
    print("id\taccount\tcreated\texpires\tlast_used\trevoked\tnote")
    for row in _run(_settings(), lambda s: accounts.keys(s, args.name)):
        times = [row.created_at, row.expires_at, row.last_used_at, row.revoked_at]
        print(tsv([row.id, row.account_name, *map(_iso, times), row.note or ""]))
    return 0


def apikey_revoke(args: argparse.Namespace) -> int:
    """Refuse the key with this id from now on (the id `apikey list` shows); tokens already
    exchanged for it stay valid until they expire, or account revoke-tokens."""
    _run(_settings(), lambda s: accounts.revoke_key(s, args.key_id))
    print(f"revoked API key {args.key_id}")
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, not {text!r}") from None


def jwks(args: argparse.Namespace) -> int:
    """Print the public half of a PEM private key as a JWKS, exactly as /.well-known/jwks.json
    would publish it: for JWT_ACCEPTED_PUBLIC_KEYS before the key starts signing (a key
    rotation)."""
    pem = sys.stdin.read() if args.key == "-" else Path(args.key).read_text()
    key = load_signing_key(pem, args.kid)
    print(orjson.dumps({"keys": [key.jwk]}).decode())
    return 0


def register(commands: Any) -> None:
    actions = group(
        commands,
        "account",
        "service accounts: create, list, grant, revoke, disable, revoke-tokens",
        "Service accounts: programs that call the API with an API key exchanged at "
        "POST /api/jwt for a token carrying the scopes the account was granted.",
    )
    example = 'space-separated scopes, e.g. "urn:dartmouth:students:read.sensitive"'
    p = command(actions, "create", account_create, "create a service account with scopes")
    p.add_argument("name", metavar="NAME", help="the account")
    p.add_argument("--scope", default="", help=f"{example} (default: none)")
    for name, handler, summary in (
        ("grant", account_grant, "grant an account more scopes"),
        ("revoke-scope", account_revoke_scope, "take scopes from an account"),
    ):
        p = command(actions, name, handler, summary)
        p.add_argument("name", metavar="NAME", help="the account")
        p.add_argument("--scope", required=True, help=example)
    command(actions, "list", account_list, "list accounts and their scopes")
    for name, handler, summary in (
        ("disable", account_disable, "refuse the account's keys and tokens (within seconds)"),
        ("enable", account_enable, "let a disabled account's keys work again"),
        ("revoke-tokens", account_revoke_tokens, "refuse every token the account holds now"),
    ):
        command(actions, name, handler, summary).add_argument(
            "name", metavar="NAME", help="the account"
        )

    actions = group(
        commands,
        "apikey",
        "API keys: create, list, revoke",
        "A service account's API keys. Only a hash of each is kept: a key is printed once, "
        "when it is created.",
    )
    summary = "make a key for an account (printed once, last line)"
    p = command(actions, "create", apikey_create, summary)
    p.add_argument("name", metavar="NAME", help="the account")
    until = "last day it works, UTC (default: never)"
    p.add_argument("--expires", type=_date, metavar="YYYY-MM-DD", help=until)
    p.add_argument("--note", metavar="TEXT", help="what the key is for")
    p = command(actions, "list", apikey_list, "list keys (never the keys themselves)")
    p.add_argument("name", metavar="NAME", nargs="?", help="only this account's keys")
    p = command(actions, "revoke", apikey_revoke, "revoke a key by its id")
    p.add_argument("key_id", metavar="KEY_ID", help="the key's id")

    summary = "print the JWKS of a PEM private key (its public half)"
    p = command(commands, "jwks", jwks, summary)
    p.add_argument("--key", required=True, metavar="FILE", help="the PEM private key (- for stdin)")
    p.add_argument("--kid", help="its key id (default: its RFC 7638 thumbprint)")
