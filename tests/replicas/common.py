"""What the replica tests share: an API of a throwaway primary with a streaming replica
(tests/infra.py), its metrics read as a caller scrapes them, and a reader's token."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from app.auth.scopes import STUDENTS_READ
from app.auth.tokens import mint
from tests.infra import Cluster
from tests.served import ROOT, Served

STUDENT = "query($n: String!) { student(netid: $n) { netid lastName dplans { termCode } } }"


def replicated_api(cluster: Cluster, replica: Cluster, **env: str) -> Served:
    """The API on `cluster` with `replica` for its reads; migrated and with the demo's students."""
    served = Served(
        cluster.url,
        DATABASE_REPLICA_URLS=replica.url,
        DATABASE_REPLICA_MAX_LAG_SECONDS="2",
        **env,
    )
    served.cli("migrate")
    served.cli("demo")
    return served


def reader_headers(served: Served) -> dict[str, str]:
    """A caller who reads students, without people:private (FERPA-protected ones are hidden)."""
    token = mint(served.settings, sub="f003ghc", scopes=[STUDENTS_READ])
    return {"Authorization": f"Bearer {token}"}


def metric(served: Served, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent)."""
    body = httpx.get(f"{served.url}/metrics", timeout=10).text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if labels else None
    for line in body.splitlines():
        if labels and pattern and (found := re.match(pattern, line)):
            return float(found.group(1))
        if not labels and line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def cli(served: Served, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m app ARGS` in `served`'s environment with `env` on top; not checked."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**served.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
