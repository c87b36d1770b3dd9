"""account and apikey, through the command line: a key is printed once, on the last line, and
works at POST /api/jwt; lists never show a key; every failure is one line.

The commands run through `app.cli.main` in this process (tests/cli/commands.py): a new process
per command cost a second or more of imports each, most of the module's time. The keys a test
exchanges at /api/jwt are printed by a real `python -m app apikey create` (`_tool_key`), so the
process's own output is tested too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE
from tests.cli.commands import in_process
from tests.cli.test_data import run_cli

T = TypeVar("T")


def ok(*args: str, url: str) -> str:
    done = in_process(*args, url=url)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def in_thread(command: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A command line helper run in a thread, from a test whose app shares this event loop:
    blocking the loop while the command waits for SQLite's write lock deadlocks whenever the app
    holds a write transaction open across an await (its in-process worker's claim, say), and the
    command fails with "database is locked" after the busy timeout."""
    return await asyncio.to_thread(command, *args, **kwargs)


def fails(*args: str, url: str) -> str:
    done = in_process(*args, url=url)
    assert done.returncode != 0 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    return done.stderr.strip()


def in_a_process(*args: str, url: str) -> str:
    """`python -m app ARGS`, a process of its own: what it printed (it must succeed)."""
    done = run_cli(*args, url=url)
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestAccounts:
    def test_create_grant_revoke_and_list(self, database_url):
        ok("account", "create", "registrar-tool", "--scope", STUDENTS_READ, url=database_url)
        granted = ok(
            "account",
            "grant",
            "registrar-tool",
            "--scope",
            f"{STUDENTS_WRITE} {STUDENTS_READ}",
            url=database_url,
        )
        assert granted.strip() == f"registrar-tool now has: {STUDENTS_READ} {STUDENTS_WRITE}"
        kept = ok(
            "account", "revoke-scope", "registrar-tool", "--scope", STUDENTS_READ, url=database_url
        )
        assert kept.splitlines()[0] == f"registrar-tool now has: {STUDENTS_WRITE}"
        ok("account", "create", "another", url=database_url)
        listed = ok("account", "list", url=database_url).splitlines()
        assert [line.split("\t")[0] for line in listed] == ["another", "registrar-tool"]
        assert listed[0].endswith("(no scopes)") and listed[1].endswith(STUDENTS_WRITE)

    def test_failures_are_one_line(self, database_url):
        ok("account", "create", "a", url=database_url)
        assert "already exists" in fails("account", "create", "a", url=database_url)
        assert "no service account named 'b'" in fails(
            "account", "grant", "b", "--scope", STUDENTS_READ, url=database_url
        )
        assert "name" in fails("account", "create", "has space", url=database_url)
        # `svc:` and the name fill a token's sub (128 characters)
        assert "1 to 124" in fails("account", "create", "n" * 125, url=database_url)


class TestKeys:
    def test_create_list_revoke(self, database_url):
        ok("account", "create", "tool", "--scope", STUDENTS_READ, url=database_url)
        out = ok(
            "apikey",
            "create",
            "tool",
            "--note",
            "nightly sync",
            "--expires",
            "2099-12-31",
            url=database_url,
        )
        key = out.strip().splitlines()[-1]
        assert key.startswith("sgk_") and len(key) == 60
        key_id = key[4:16]
        listed = ok("apikey", "list", url=database_url)
        assert key_id in listed and "nightly sync" in listed and "2100-01-01T00:00:00Z" in listed
        assert key[17:] not in listed  # never the key itself
        assert ok("apikey", "list", "tool", url=database_url) == listed
        ok("apikey", "revoke", key_id, url=database_url)
        revoked = ok("apikey", "list", url=database_url).splitlines()[1].split("\t")
        assert revoked[5] != "-"  # revoked at
        assert "no unrevoked API key" in fails("apikey", "revoke", key_id, url=database_url)

    def test_key_failures_are_one_line(self, database_url):
        assert "no service account named 'ghost'" in fails(
            "apikey", "create", "ghost", url=database_url
        )
        ok("account", "create", "tool", url=database_url)
        assert "in the past" in fails(
            "apikey", "create", "tool", "--expires", "2001-01-01", url=database_url
        )
        assert "YYYY-MM-DD" in fails(
            "apikey", "create", "tool", "--expires", "tomorrow", url=database_url
        )


def _tool_key(database_url: str) -> str:
    """A service account `tool` (students:read.sensitive, people:private) and its new key, as a
    real `python -m app apikey create` prints it (on its last line)."""
    ok(
        "account",
        "create",
        "tool",
        "--scope",
        f"{STUDENTS_READ} {PEOPLE_PRIVATE}",
        url=database_url,
    )
    return in_a_process("apikey", "create", "tool", url=database_url).strip().splitlines()[-1]


async def test_a_printed_key_is_exchanged_at_api_jwt(database_url, client):
    key = await in_thread(_tool_key, database_url)

    response = await client.post(
        "/api/jwt",
        params={"scope": f"{PEOPLE_PRIVATE} {STUDENTS_WRITE}"},
        headers={"Authorization": key},
    )

    assert response.status_code == 200 and response.json()["accepted_scopes"] == [PEOPLE_PRIVATE]


class TestJwks:
    def test_prints_the_key_as_the_api_publishes_it(self, tmp_path, database_url):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from app.auth.signing import jwks
        from app.config import Settings

        private = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (tmp_path / "next.pem").write_bytes(private)
        printed = json.loads(ok("jwks", "--key", str(tmp_path / "next.pem"), url=database_url))
        published = jwks(Settings(jwt_private_key=private.decode(), jwt_algorithms=["ES256"]))
        assert printed == published and "d" not in printed["keys"][0]
        assert fails("jwks", "--key", str(tmp_path / "missing.pem"), url=database_url)


async def test_a_scope_taken_back_and_a_key_revoked_are_refused_at_api_jwt(database_url, client):
    key = await in_thread(_tool_key, database_url)
    await in_thread(
        ok, "account", "revoke-scope", "tool", "--scope", PEOPLE_PRIVATE, url=database_url
    )

    asked = {"scope": f"{PEOPLE_PRIVATE} {STUDENTS_READ}"}
    response = await client.post("/api/jwt", params=asked, headers={"Authorization": key})
    assert response.status_code == 200 and response.json()["accepted_scopes"] == [STUDENTS_READ]

    await in_thread(ok, "apikey", "revoke", key[4:16], url=database_url)
    refused = await client.post("/api/jwt", params=asked, headers={"Authorization": key})
    unknown = await client.post("/api/jwt", params=asked, headers={"Authorization": "sgk_none"})
    assert (refused.status_code, refused.json()) == (401, unknown.json())
