"""graphql-http's server audits (npm `graphql-http`, `serverAudits`): GraphQL over HTTP
conformance checked by the reference implementation's own suite, over a real socket.

Needs Node.js and npm: the pinned package is installed on first use (`npm ci` into
tests/graphql/http_audit/node_modules, gitignored), and the test is skipped, saying why, on a
machine without them."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.auth.scopes import ALL_SCOPES
from tests.conftest import bearer
from tests.npm import installed

AUDIT = Path(__file__).resolve().parent / "http_audit"


def _installed() -> str | None:
    """The path of `node` once graphql-http is installed, or None (the test is then skipped).
    Installed under tests/npm.py's lock: the test's two backends may run in two xdist workers
    at once, and two `npm ci` into one node_modules break each other."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    installed(AUDIT, npm, "graphql-http")
    return node


async def _audit(app: Any, node: str, token: str) -> list[dict[str, Any]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)  # connections wait in the backlog until uvicorn accepts them
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        audit = await asyncio.create_subprocess_exec(
            node,
            str(AUDIT / "audit.mjs"),
            f"http://127.0.0.1:{port}/graphql",
            token,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(audit.communicate(), timeout=120)
        assert audit.returncode == 0, err.decode()[-3000:]
    finally:
        server.should_exit = True
        await serving
        listener.close()
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_the_graphql_http_audit_passes_without_warnings(app, settings):
    node = _installed()
    if node is None:
        pytest.skip("graphql-http's audit needs Node.js and npm, which this machine lacks")
    token = bearer(settings, *ALL_SCOPES)["Authorization"].removeprefix("Bearer ")
    results = await _audit(app, node, token)
    assert len(results) > 50  # the whole suite ran (1.23.1 has 57 audits)
    failed = [
        f"{r['status']} {r['id']} {r['name']}: {r['reason']}"
        for r in results
        if r["status"] != "ok"
    ]
    assert failed == [], "\n".join(failed)
