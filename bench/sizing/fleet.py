"""The processes the sizing bench measures: API processes (`studentgraph serve`, one per port)
reaching PostgreSQL directly or through a PgBouncer of the bench's own (transaction pooling, as
tests/infra.py starts one), and `studentgraph worker` processes."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.serving import STUDENTGRAPH, run, start, stop, wait_for
from tests.served import free_port

DIRECT, POOLED = "direct", "pgbouncer"
# The rate limit and budget are off (one caller at thousands of requests a second is what they
# stop); no in-process worker; warnings only.
QUIET = {
    "RATE_LIMIT_PER_SECOND": "0",
    "RATE_LIMIT_COST_PER_MINUTE": "0",
    "WORKER_IN_PROCESS": "false",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Database:
    """Where the bench's database is: PostgreSQL's own address and, when the bench runs one,
    PgBouncer's."""

    user: str
    host: str
    port: int
    name: str
    pooler_port: int | None = None

    @classmethod
    def parse(cls, pg: str, name: str) -> Database:
        user, address = pg.split("@", 1)
        host, port = address.rsplit(":", 1)
        return cls(user, host, int(port), name)

    def url(self, *, pooled: bool = False) -> str:
        port = self.pooler_port if pooled else self.port
        host = "127.0.0.1" if pooled else self.host
        return f"postgresql+asyncpg://{self.user}@{host}:{port}/{self.name}"

    def env(self, target: str) -> dict[str, str]:
        """The API's and workers' variables for one target."""
        direct = self.url()
        if target == DIRECT:
            return {"DATABASE_URL": direct, **QUIET}
        return {
            "DATABASE_URL": self.url(pooled=True),
            "DATABASE_POOLER": "transaction",
            "DATABASE_LISTEN_URL": direct,  # LISTEN needs PostgreSQL itself
            **QUIET,
        }


@dataclass(frozen=True)
class Api:
    target: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def pgbouncer(database: Database, pool_size: int, max_clients: int) -> Iterator[int | None]:
    """PgBouncer in transaction pooling in front of `database`'s PostgreSQL (its pid), or None
    (said why) when this machine cannot run one."""
    from tests import infra

    if database.host not in ("127.0.0.1", "localhost") or not infra.BIN:
        print("pgbouncer target skipped: needs PostgreSQL on 127.0.0.1 and its binaries")
        yield None
        return
    if not infra.ensure_pgbouncer():
        print("pgbouncer target skipped: Debian's pgbouncer is missing (installed as root)")
        yield None
        return
    server = infra.Cluster(Path(tempfile.mkdtemp(prefix="sg-sizing-pg-")), initdb=False)
    server.port = database.port  # only its address and psql are used: the server is not ours
    root = infra._owned_directory("sg-sizing-pgbouncer-")
    bouncer = infra.PgBouncer(
        root, server, default_pool_size=pool_size, max_client_conn=max_clients
    )
    try:
        bouncer.start()
        assert bouncer.process is not None
        database.pooler_port = bouncer.port
        yield bouncer.process.pid
    finally:
        bouncer.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(server.root, ignore_errors=True)


@contextlib.contextmanager
def apis(database: Database, targets: list[str], count: int, logs: Path) -> Iterator[list[Api]]:
    """`count` API processes per target, each `studentgraph serve` on a port of its own."""
    started: list[Api] = []
    try:
        for target in targets:
            env = database.env(target)
            for i in range(count):
                port = free_port()
                command = [STUDENTGRAPH, "serve", "--port", str(port)]
                log = logs / f"api-{target}-{i}.log"
                started.append(Api(target, port, start(command, env, log), log))
        for api in started:
            wait_for(api.base, api.process, api.log)
        yield started
    finally:
        stop([api.process for api in started])


def migrate_through_pooler(database: Database) -> None:
    """`studentgraph migrate` as an operator runs it behind a transaction pooler: the role's
    statement timeout in this database set, which pooled sessions take."""
    run(STUDENTGRAPH, "migrate", env=database.env(POOLED))


def workers(
    database: Database, target: str, count: int, logs: Path
) -> list[subprocess.Popen[bytes]]:
    env = database.env(target)
    return [
        start([STUDENTGRAPH, "worker"], env, logs / f"worker-{target}-{i}.log")
        for i in range(count)
    ]
