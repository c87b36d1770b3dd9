"""PostgreSQL infrastructure of a test's own, never the shared server: a throwaway cluster
(initdb and pg_ctl on a free port, under a temporary directory), PgBouncer in front of it
(Debian's package, installed when missing) and a streaming replica of it (`pg_basebackup -R`).

Registered as a plugin (tests/conftest.py), so any test asks for the fixtures by name:
`cluster` (started), `pgbouncer` (transaction pooling, 3 server connections, in front of
`cluster`) and `replica` (of `cluster`, started, streaming). Each skips when the machine lacks
what it needs (PostgreSQL's server binaries; root to install PgBouncer)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.locks import exclusive
from tests.served import free_port

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
PGBOUNCER = "/usr/sbin/pgbouncer"  # Debian's
ROOT_USER = os.geteuid() == 0  # CI: PostgreSQL and PgBouncer refuse root, so they run as postgres
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")  # Debian: a script that may refuse services' starts


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if ROOT_USER else command


def _owned_directory(prefix: str) -> Path:
    """A temporary directory the postgres user may write in (when the test runs as root)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o777)
    return root


class Cluster:
    """A PostgreSQL cluster in `root`, on a free port of 127.0.0.1 (and a socket in `root`)."""

    def __init__(self, root: Path, *, initdb: bool = True) -> None:
        self.bin = Path(BIN[-1])
        self.root, self.port = root, free_port()
        self.data = root / "data"
        if initdb:
            self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def run(self, tool: str, *args: str) -> str:
        """One of PostgreSQL's programs, as the postgres user; its output."""
        command = _as_postgres([str(self.bin / tool), *args])
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
        return done.stdout

    def start(self, *settings: str) -> None:
        """Starts it; `settings` are server settings (`max_connections=300`) given as `-c`."""
        extra = "".join(f" -c {setting}" for setting in settings)
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1{extra}"
        log = str(self.root / "log")
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def sql(self, statement: str, database: str = "postgres") -> str:
        """One statement through psql on the cluster's socket; its rows, unaligned."""
        return self.run(
            "psql", "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", database,
            "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement,
        ).strip()  # fmt: skip

    @property
    def url(self) -> str:
        """Its address for the application (SQLAlchemy's asyncpg dialect)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def replica(self, root: Path) -> Cluster:
        """A streaming replica of this (running) cluster in `root`, not yet started:
        `pg_basebackup -R` writes standby.signal and primary_conninfo, so it follows this one."""
        replica = Cluster(root, initdb=False)
        self.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        return replica


def ensure_pgbouncer() -> bool:
    """Whether Debian's PgBouncer is here, installing it when missing and allowed (CI runs as
    root, as for Chromium in .ci/run). Its packaged service is not let start: the tests run
    their own, with their own ini."""
    return ensure_debian_package(PGBOUNCER, "pgbouncer")


def ensure_debian_package(program: str, package: str) -> bool:
    """Whether `program` is here, installing Debian's `package` when it is missing and that is
    allowed (as root, with apt-get). A service the package brings is not let start: the tests
    run their own, with their own configuration."""
    if Path(program).exists():
        return True
    if not ROOT_USER or shutil.which("apt-get") is None:
        return False
    with exclusive("apt-get"):  # dpkg's lock fails a second install at once (xdist workers)
        if Path(program).exists():
            return True  # another worker installed it while this one waited
        _apt_install(package)
    return Path(program).exists()


def _apt_install(package: str) -> None:
    """`apt-get install` (after `apt-get update` if it failed), the package's service kept from
    starting."""
    guard = not POLICY_RC_D.exists()
    if guard:  # invoke-rc.d asks it whether a package may start its service: 101 says no
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", package]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
    finally:
        if guard:
            POLICY_RC_D.unlink()


class PgBouncer:
    """PgBouncer in front of `cluster`, every database passed through, every user trusted, run in
    the foreground as a process of the test's own (as the postgres user when the test is root).
    `settings` are added to (or override) the [pgbouncer] section."""

    def __init__(self, root: Path, cluster: Cluster, **settings: Any) -> None:
        self.root, self.cluster, self.port = root, cluster, free_port()
        (root / "userlist.txt").write_text('"postgres" ""\n')
        options = {
            "listen_addr": "127.0.0.1",
            "listen_port": self.port,
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": root / "userlist.txt",
            "admin_users": "postgres",
            "pool_mode": "transaction",
            "default_pool_size": 3,
            "max_client_conn": 200,
            "logfile": root / "pgbouncer.log",
            "pidfile": root / "pgbouncer.pid",
            **settings,
        }
        lines = ["[databases]", f"* = host=127.0.0.1 port={cluster.port}", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in options.items()]
        (root / "pgbouncer.ini").write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        user = {"user": "postgres", "group": "postgres", "extra_groups": []} if ROOT_USER else {}
        self.process = subprocess.Popen(
            [PGBOUNCER, str(self.root / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **user,  # type: ignore[call-overload]
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.admin("SHOW VERSION")
                return
            assert self.process.poll() is None, self.log()
            time.sleep(0.1)
        raise AssertionError(f"PgBouncer did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def admin(self, command: str) -> str:
        """A command on PgBouncer's console (`SHOW POOLS`, `RECONNECT`, ...); its rows."""
        return self.cluster.run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "pgbouncer",
            "-X", "-A", "-t", "-c", command,
        ).strip()  # fmt: skip

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text() if path.exists() else "(no log)"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"


def _needs_server_binaries() -> None:
    if not BIN or (ROOT_USER and shutil.which("runuser") is None):
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl)")


@contextlib.contextmanager
def started(cluster: Cluster, *settings: str) -> Iterator[Cluster]:
    """`cluster` running (with these server `settings`) while inside; stopped (if still
    running) and removed after."""
    try:
        cluster.start(*settings)
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL, started."""
    _needs_server_binaries()
    with started(Cluster(_owned_directory("sg-cluster-"))) as running:
        yield running


@contextlib.contextmanager
def bouncing(cluster: Cluster, **settings: Any) -> Iterator[PgBouncer]:
    """PgBouncer (see `PgBouncer`) in front of `cluster` while inside."""
    if not ensure_pgbouncer():
        pytest.skip("needs Debian's pgbouncer (installed by the tests when run as root)")
    root = _owned_directory("sg-pgbouncer-")
    bouncer = PgBouncer(root, cluster, **settings)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pgbouncer(cluster: Cluster) -> Iterator[PgBouncer]:
    """PgBouncer in transaction pooling with 3 server connections, in front of `cluster`."""
    with bouncing(cluster) as bouncer:
        yield bouncer


@pytest.fixture
def replica(cluster: Cluster) -> Iterator[Cluster]:
    """A streaming replica of `cluster` (`pg_basebackup -R`), started on its own port."""
    with started(cluster.replica(_owned_directory("sg-replica-"))) as running:
        yield running
