"""The compose deployment in production mode, run as processes (this machine has no Docker
engine; tests/deploy/compose.py reads docker-compose.yml as compose does and says what it
adapts, which is addresses, ports and paths only).

What an operator does, in order: fills in .env (a database password, a signing key, a TLS
certificate; compose refuses to start without each), `up`: PostgreSQL (a throwaway cluster with
the service's settings and pg_hba.conf, so the password is asked for), Redis, `migrate` (must
exit 0), the `api` (`--workers 2` here) and two `worker`s, each waited on by its own healthcheck
`test`; then, inside the deployment (`docker compose run --rm --no-deps api studentgraph ...`),
`load` of students from stdin, `account create` and `apikey create`. Then: the key exchanged at
POST /api/jwt for a JWT (RS256, signed with the secret's key) and that token on GraphQL and REST;
a token of an identity provider verified through its JWKS (served here); an allowed origin's
CORS preflight; `audit` showing the reads; a `setDplans` round trip; /metrics scraped; 30 tasks
accepted and both workers sent SIGTERM at once (each exits 0 within its `stop_grace_period`,
none left `running`, a new worker completes them all); the api exits 0 on SIGTERM.

`test_the_pooled_and_replica_profiles` runs the optional services: PgBouncer (the app behind it
with DATABASE_POOLER=transaction, LISTEN straight to PostgreSQL) and the streaming replica."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from app.auth.scopes import STUDENTS_READ
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models import Task
from tests.deploy.compose import (
    ROOT,
    Deployment,
    Refused,
    Service,
    compose_file,
    operator_environment,
    postgres,
)
from tests.deploy.steps import (
    NETIDS,
    SET_DPLANS,
    STUDENT,
    deployed,
    dplan,
    exchange,
    gql,
    load_students,
    reads,
    round_trip,
    service_account,
    until,
    up,
)
from tests.infra import Cluster, ensure_pgbouncer

ISSUER, AUDIENCE = "https://idp.example.edu", "studentgraph"
PORTAL = "https://portal.example.edu"


# --- what compose checks before it starts anything ---------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [
        "POSTGRES_PASSWORD",
        "JWT_PRIVATE_KEY_FILE",
        "TLS_CERTIFICATE_FILE",
        "TLS_CERTIFICATE_KEY_FILE",
    ],
)
def test_compose_refuses_to_start_without(missing, tmp_path):
    operator = operator_environment(tmp_path)
    compose_file(operator)  # everything set: accepted
    with pytest.raises(Refused, match=f"^{missing}: set "):
        compose_file({**operator, missing: ""})


def test_the_env_example_lists_every_variable_with_a_comment():
    """.env.example names exactly the variables docker-compose.yml reads (and COMPOSE_PROFILES,
    compose's own), each block of them under a comment."""
    example = (ROOT / ".env.example").read_text().splitlines()
    read = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    listed = set()
    for previous, line in zip(["#", *example], example, strict=False):
        name = re.match(r"([A-Z_]+)=", line)
        if name:
            listed.add(name.group(1))
            assert previous.startswith("#") or re.match(r"[A-Z_]+=", previous), line
    assert listed == read | {"COMPOSE_PROFILES"}


# --- the deployment ----------------------------------------------------------------------------


class IdentityProvider:
    """An outside identity provider: an EC P-256 key whose JWKS it serves over HTTP."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "idp-1", "alg": "ES256", "use": "sig"}]})
        self.fetched = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetched += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "idp-1"})

    def close(self) -> None:
        self.server.shutdown()


@pytest.mark.slow  # about 30 s
async def test_the_compose_deployment(cluster_root):
    idp = IdentityProvider()
    operator = {
        **operator_environment(cluster_root),
        "JWT_JWKS_URL": idp.url,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "CORS_ORIGINS": PORTAL,
        "METRICS_ENABLED": "true",
    }
    with deployed(operator, cluster_root) as (deployment, cluster):
        _, api, *workers = up(deployment, cluster)
        try:
            await _run(deployment, api, workers, idp)
        finally:
            idp.close()


async def _run(deployment: Deployment, api: Service, workers: list[Service], idp: Any) -> None:
    load_students(deployment)
    key = service_account(deployment)
    async with httpx.AsyncClient(base_url=f"http://{api.url}", timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {await exchange(client, key)}"
        await reads(client)
        await _identity_provider(client, idp)
        await _cors(client)
        await round_trip(client)
        await _scrape(client, workers)
        await _stop_workers_while_busy(deployment, client, workers)
    audit = deployment.cli("audit", "--netid", NETIDS[0], "--json")
    records = [json.loads(line) for line in audit.stdout.splitlines()]
    assert audit.returncode == 0 and {r["sub"] for r in records} >= {"svc:registrar-tool"}, audit
    assert api.terminate() == 0, api.tail()


async def _identity_provider(client: httpx.AsyncClient, idp: IdentityProvider) -> None:
    """A token of the identity provider, verified through its JWKS; its audience is checked."""
    token = idp.token(sub="portal-user", scope=STUDENTS_READ)
    headers = {"Authorization": f"Bearer {token}"}
    answer = await client.post(
        "/graphql", json={"query": STUDENT, "variables": {"n": NETIDS[1]}}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    student = answer.json()["data"]["student"]
    assert student == {"netid": NETIDS[1], "name": "Ada Student 1"}
    assert idp.fetched >= 1
    other = idp.token(sub="portal-user", scope=STUDENTS_READ, aud="another-api")
    refused = await client.get(
        f"/api/students/{NETIDS[1]}/terms", headers={"Authorization": f"Bearer {other}"}
    )
    assert refused.status_code == 401 and "invalid_token" in refused.headers["WWW-Authenticate"]


async def _cors(client: httpx.AsyncClient) -> None:
    """CORS_ORIGINS reaches the app: its origin's preflight is allowed, another's is not."""
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await client.options("/graphql", headers={"Origin": PORTAL, **asked})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["Access-Control-Allow-Origin"] == PORTAL
    other = await client.options("/graphql", headers={"Origin": "https://evil.example", **asked})
    assert other.status_code == 400 and "Access-Control-Allow-Origin" not in other.headers


async def _scrape(client: httpx.AsyncClient, workers: list[Service]) -> None:
    # With multiprocess metrics, each scrape covers every process of the api.
    for _ in range(4):
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "studentgraph_requests_total" in response.text
    for worker in workers:  # workers serve /metrics on their own port
        scraped = await client.get(f"http://{worker.url}/metrics")
        assert scraped.status_code == 200 and "studentgraph_" in scraped.text


async def task_states(database_url: str) -> dict[str, int]:
    engine = create_engine(Settings(database_url=database_url))
    async with create_sessionmaker(engine)() as session:
        rows = (
            await session.execute(select(Task.status, func.count()).group_by(Task.status))
        ).all()
    await engine.dispose()
    return {status: count for status, count in rows}


async def _stop_workers_while_busy(
    deployment: Deployment, client: httpx.AsyncClient, workers: list[Service]
) -> None:
    database = workers[0].env["DATABASE_URL"]
    accepted = await asyncio.gather(
        *(
            gql(client, SET_DPLANS, n=netid, d=[dplan(term, code)])
            for netid in NETIDS
            for term in ("202301", "202303")
            for code in ("R", "L", "O")
        )
    )
    for worker in workers:  # at once, while they apply what was just accepted
        worker.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    for worker in workers:
        assert worker.exited() == 0, worker.tail()
    states = await task_states(database)
    assert sum(states.values()) == len(accepted) + 1 and "running" not in states, states
    again = deployment.service("worker").start()

    async def all_complete() -> bool:
        return await task_states(database) == {"complete": len(accepted) + 1}

    await until(all_complete, 20)

    async def serving() -> bool:
        # Its signal handlers are set before it serves /metrics: a SIGTERM before then (the tasks
        # may all be complete already, and a loaded machine takes seconds to import it) kills it.
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get(f"http://{again.url}/metrics")).status_code == 200
        return False

    await until(serving, 60)
    assert again.terminate() == 0


# --- the optional services ---------------------------------------------------------------------


@pytest.mark.slow  # about 25 s
async def test_the_pooled_and_replica_profiles(cluster_root):
    """`COMPOSE_PROFILES=pooled,replica` and `DATABASE_POOLER=transaction`: the app's services
    reach PostgreSQL through PgBouncer (its ini and its user list made from POSTGRES_PASSWORD),
    LISTEN straight to it (tasks complete on notifications), and the replica clones the primary
    with the replication line of pg_hba.conf and streams from it."""
    if not ensure_pgbouncer():
        pytest.skip("needs Debian's pgbouncer (installed by the tests when run as root)")
    operator = {
        **operator_environment(cluster_root),
        "COMPOSE_PROFILES": "pooled,replica",
        "DATABASE_POOLER": "transaction",
    }
    with deployed(operator, cluster_root) as (deployment, cluster):
        postgres(deployment, cluster)
        bouncer = pgbouncer(deployment, cluster)
        replica = postgres_replica(deployment, cluster)
        migrate = deployment.service("migrate").start()
        assert migrate.proc is not None and migrate.proc.wait(60) == 0, migrate.tail()
        assert "statement_timeout = 15000 ms" in migrate.tail()
        api = deployment.service("api")
        api.spec["command"] = [*api.spec["command"][:-1], "2"]
        worker = deployment.service("worker")
        deadline = time.monotonic() + 60
        for service in (api.start(), worker.start()):
            service.wait_healthy(deadline)
        assert api.env["DATABASE_URL"].endswith(f"@{bouncer.url}/studentgraph")
        assert worker.env["DATABASE_LISTEN_URL"].endswith(f":{cluster.port}/studentgraph")
        await _through_the_pooler(deployment, api)
        assert "login attempt: db=studentgraph user=studentgraph" in bouncer.tail()
        await _replicated(cluster, replica)


def pgbouncer(deployment: Deployment, cluster: Cluster) -> Service:
    """The `pgbouncer` service: its command and deploy/pgbouncer.ini, with this machine's
    addresses and files; as the postgres user when the test is root."""
    bouncer = deployment.service("pgbouncer", ports=(5432,))
    userlist = deployment.root / "userlist.txt"
    deployment.adapted_file(
        ROOT / "deploy" / "pgbouncer.ini",
        "/etc/pgbouncer/pgbouncer.ini",
        {
            "host=postgres port=5432": f"host=127.0.0.1 port={cluster.port}",
            "listen_addr = 0.0.0.0": "listen_addr = 127.0.0.1",
            "listen_port = 5432": f"listen_port = {bouncer.port}",
            "/tmp/userlist.txt": str(userlist),
        },
    )
    bouncer.files = {**deployment.mounted("pgbouncer"), "/tmp/userlist.txt": userlist}
    bouncer.as_postgres = True
    bouncer.start().wait_healthy(time.monotonic() + 20)
    return bouncer


def postgres_replica(deployment: Deployment, cluster: Cluster) -> Service:
    """The `postgres-replica` service: its script (pg_basebackup from `postgres` as
    studentgraph, then the server) with this machine's addresses; PGDATA the image's ENV."""
    replica = deployment.service("postgres-replica", ports=(5432,))
    data = deployment.root / "replica"
    replica.env.update(PGDATA=str(data), PGHOST=str(deployment.root), PGPORT=str(replica.port))
    hba = deployment.root / "pg_hba.conf"  # copied there by postgres()
    shell, flag, script = replica.spec["command"]
    for old, new in {
        "-h postgres ": f"-h 127.0.0.1 -p {cluster.port} ",
        "exec postgres ": f"exec postgres -k {deployment.root} -c listen_addresses=127.0.0.1 ",
        "/etc/postgresql/pg_hba.conf": str(hba),
    }.items():
        assert old in script, f"postgres-replica's command no longer says {old!r}"
        script = script.replace(old, new)
    replica.as_postgres = True
    replica.start([shell, flag, script]).wait_healthy(time.monotonic() + 60)
    assert (data / "standby.signal").exists()
    return replica


async def _through_the_pooler(deployment: Deployment, api: Service) -> None:
    load_students(deployment)
    key = service_account(deployment)
    async with httpx.AsyncClient(base_url=f"http://{api.url}", timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {await exchange(client, key)}"
        await reads(client)
        await round_trip(client)


async def _replicated(cluster: Cluster, replica: Service) -> None:
    """The replica streams from the primary and holds what the deployment wrote."""
    assert cluster.sql("SELECT state FROM pg_stat_replication") == "streaming"
    count = "SELECT count(*) FROM tasks"
    written = cluster.sql(count, "studentgraph")
    assert written == "1"

    async def caught_up() -> bool:
        return replica_sql(replica, count) == written

    await until(caught_up, 10)
    assert replica_sql(replica, "SELECT pg_is_in_recovery()") == "t"


def replica_sql(replica: Service, statement: str) -> str:
    command = [
        "psql",
        "-X",
        "-A",
        "-t",
        "-U",
        "studentgraph",
        "-d",
        "studentgraph",
        "-c",
        statement,
    ]
    done = subprocess.run(command, env=replica.env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
