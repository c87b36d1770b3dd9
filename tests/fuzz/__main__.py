"""`make fuzz` (`python -m tests.fuzz [--examples N]`): schemathesis against `/openapi.json` and
against the GraphQL schema of a served studentgraph (uvicorn, a temporary SQLite database with the
demo data, a token with every scope, the rate limit off). Exit status 0 only when no check failed.

REST: every check but `positive_data_acceptance` (the API has rules OpenAPI cannot say, such as
`page` needing a `continuation_key`; their refusals are 400s named in the contract).
GraphQL: `no_internal_error` (tests/fuzz/checks.py): no 5xx, and every error expected, with a
stable code."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.served import free_port  # the xdist worker's block when run by tests/test_fuzz.py

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REST_CHECKS = "all"
REST_EXCLUDED = "positive_data_acceptance,no_internal_error"  # the latter is GraphQL's


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    p.add_argument("--examples", type=int, default=300, help="per operation (300)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sg-fuzz-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/fuzz.db",
            "RATE_LIMIT_PER_SECOND": "0",
            "RATE_LIMIT_COST_PER_MINUTE": "0",
            "RATE_LIMIT_JWT_PER_KEY_PER_MINUTE": "0",
            "RATE_LIMIT_JWT_PER_ADDRESS_PER_MINUTE": "0",
            "LOG_LEVEL": "WARNING",
            "SCHEMATHESIS_HOOKS": "tests.fuzz.checks",
            "PYTHONPATH": str(ROOT),
        }
        for command in (["migrate"], ["demo"]):
            done = _run([str(BIN / "studentgraph"), *command], env)
            if done.returncode:
                print(done.stdout, done.stderr)
                return 1
        token = _run([str(BIN / "studentgraph"), "token", "--sub", "fuzz"], env).stdout.split()[-1]
        port = free_port()
        server = subprocess.Popen(
            [str(BIN / "studentgraph"), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            common = ["-H", f"Authorization: Bearer {token}", "-n", str(args.examples)]
            common += ["--seed", str(args.seed), "--no-color"]
            rest = [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", *common]
            rest += ["--checks", REST_CHECKS, "--exclude-checks", REST_EXCLUDED]
            graphql = [str(BIN / "schemathesis"), "run", f"{base}/graphql", *common]
            graphql += ["--checks", "no_internal_error"]
            failed = 0
            for name, command in (("REST", rest), ("GraphQL", graphql)):
                done = _run(command, env)
                print(
                    f"== {name}: exit {done.returncode}\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
                )
                failed |= done.returncode
            return 1 if failed else 0
        finally:
            server.terminate()
            server.wait(10)


def _wait(base: str) -> None:
    for _ in range(200):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{base} did not start")


if __name__ == "__main__":
    sys.exit(main())
