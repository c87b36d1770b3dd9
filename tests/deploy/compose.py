"""docker-compose.yml run as processes (this machine has no Docker engine).

The file is read as compose reads it: parsed (YAML merge keys included), then every string
interpolated from an operator's environment (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`,
`$$`), and checked against the Compose Specification's JSON schema (`compose-spec.json` beside
this file, from compose-spec/compose-spec at 170098b, Apache-2.0). Each service's `command`,
`environment` (over the Dockerfile's ENV, for the app's services), `secrets` and healthcheck are
then used as they stand, with these adaptations and no others:

* `postgres` is a throwaway cluster of the test's own (tests/infra.py), started with the
  service's `-c` settings, its role and database made as the image makes them from
  POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB;
* every address a service is known by (`postgres:5432`, an alias, `redis:6379`, `api:8000`)
  becomes the 127.0.0.1 address its process listens on, a fixed address (the proxy's) 127.0.0.2;
  a service's own port becomes a free one, `--host 0.0.0.0` 127.0.0.1;
* a secret (`/run/secrets/NAME`) is the file the operator named, a file mounted from `./deploy/`
  that file (or a copy whose addresses and paths were adapted the same way);
* `studentgraph` and `python` are this virtualenv's; a program PostgreSQL or PgBouncer runs as
  the postgres user when the test is root (both refuse root)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.infra import BIN as POSTGRES_BINS
from tests.infra import ROOT_USER, Cluster
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SPEC = Path(__file__).with_name("compose-spec.json")

# What a fixed container address (the proxy's) stands for here: the proxy connects from it
# (nginx's proxy_bind), so the api believes it and no other local address.
FIXED_ADDRESS = "127.0.0.2"
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}")


class Refused(Exception):
    """Compose would refuse to start (a `${VAR:?message}` unset or empty)."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        found = env.get(name, "")
        if operator == "?" and not found:
            raise Refused(f"{name}: {argument}")
        return found or (argument if operator == "-" else "")

    return _VARIABLE.sub(value, text)


def _interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: _interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolated(item, env) for item in node]
    return node


def compose_file(operator: Mapping[str, str]) -> dict[str, Any]:
    """docker-compose.yml as compose sees it with this operator's environment (`Refused` if
    compose would stop), checked against the Compose Specification."""
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    document: dict[str, Any] = _interpolated(loaded, operator)
    jsonschema.validate(document, json.loads(SPEC.read_text()))
    return document


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (PATH aside: the virtualenv is this one)."""
    stages = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").split("\nFROM ")
    env: dict[str, str] = {}
    for line in stages[-1].splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())  # type: ignore[arg-type]
    env.pop("PATH", None)
    return env


def seconds(duration: str) -> float:
    """Compose durations as this file writes them (`30s`, `1m`)."""
    number, unit = re.fullmatch(r"(\d+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return float(number) * (60 if unit == "m" else 1)


def operator_environment(root: Path) -> dict[str, str]:
    """What an operator sets before `docker compose up` (.env.example's required variables):
    a database password, a signing key and a TLS certificate made here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing = root / "jwt_private_key.pem"
    signing.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certificate, certificate_key = self_signed_certificate(root)
    return {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "JWT_PRIVATE_KEY_FILE": str(signing),
        "TLS_CERTIFICATE_FILE": str(certificate),
        "TLS_CERTIFICATE_KEY_FILE": str(certificate_key),
    }


def self_signed_certificate(root: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (openssl, as .env.example says)."""
    certificate, key = root / "tls.crt", root / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    certificate.chmod(0o644)
    key.chmod(0o644)  # the test's own throwaway key; nginx's workers and postgres read it
    return certificate, key


class Deployment:
    """The compose project's services as processes of this test (see the module's docstring)."""

    def __init__(self, operator: dict[str, str], root: Path) -> None:
        self.operator, self.root = operator, root
        self.file = compose_file(operator)
        self.specs: dict[str, Any] = self.file["services"]
        self.addresses: dict[str, str] = {}  # "name:port" as compose says it -> "127.0.0.1:port"
        self.ips: dict[str, str] = {}  # a fixed container address -> PROXY_ADDRESS
        self.files: dict[str, Path] = {}  # a container path -> the file standing for it
        self.running: list[Service] = []
        for spec in self.specs.values():
            for network in _networks(spec).values():
                if network.get("ipv4_address"):
                    self.ips[network["ipv4_address"]] = FIXED_ADDRESS

    # --- addresses and files ----------------------------------------------------------------

    def listen(self, name: str, container_port: int, port: int) -> None:
        """Service `name` (and its aliases) at `container_port` is 127.0.0.1:`port` here."""
        names = [name]
        for network in _networks(self.specs[name]).values():
            names += network.get("aliases", [])
        for known in names:
            self.addresses[f"{known}:{container_port}"] = f"127.0.0.1:{port}"

    def mounted(self, name: str) -> dict[str, Path]:
        """The files service `name` sees: its secrets and its `./` volumes (or the adapted copy
        of one in `self.files`)."""
        spec, files = self.specs[name], {}
        for secret in spec.get("secrets", []):
            files[f"/run/secrets/{secret}"] = ROOT / self.file["secrets"][secret]["file"]
        for volume in spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                files[target] = self.files.get(target, ROOT / source)
        return files

    def adapt(self, text: str, own: dict[str, int], files: Mapping[str, Path]) -> str:
        """`text` (an argument, an environment value, a configuration file) with the addresses
        and paths of this machine: `own` maps the service's container ports to its ports."""
        for container, port in own.items():
            text = re.sub(rf"\b(127\.0\.0\.1|localhost):{container}\b", f"127.0.0.1:{port}", text)
        for known, address in self.addresses.items():
            text = re.sub(rf"(?<![\w.-]){re.escape(known)}\b", address, text)
        for ip, local in self.ips.items():
            text = re.sub(rf"(?<![\d.]){re.escape(ip)}(?![\d.])", local, text)
        for path in sorted(files, key=len, reverse=True):  # a secret's name may begin another's
            text = text.replace(path, str(files[path]))
        return text

    def adapted_file(
        self,
        source: Path,
        target: str,
        replacements: Mapping[str, str],
        files: Mapping[str, Path] | None = None,
    ) -> Path:
        """A copy of `source` (mounted at `target`) with its addresses (and the container paths
        of `files`) adapted, then these `replacements` (each must occur): what the test's
        processes read instead."""
        text = self.adapt(source.read_text(), {}, files or {})
        for old, new in replacements.items():
            assert old in text, f"{source.name} no longer says {old!r}: adapt the test"
            text = text.replace(old, new)
        copy = self.root / f"{secrets.token_hex(3)}-{source.name}"
        copy.write_text(text)
        copy.chmod(0o644)
        self.files[target] = copy
        return copy

    # --- services ----------------------------------------------------------------------------

    def service(self, name: str, ports: tuple[int, ...] = (), **env: str) -> Service:
        """Service `name` as a process (not yet started), `env` over its own environment."""
        service = Service(self, name, ports, **env)
        self.running.append(service)
        return service

    def app_env(self, name: str) -> dict[str, str]:
        """The environment of an app service's container, as compose makes it."""
        env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
        env.update(image_env())
        env.update({k: str(v) for k, v in (self.specs[name].get("environment") or {}).items()})
        return env

    def cli(
        self, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose run --rm --no-deps api studentgraph ARGS` (or `exec -T`): the api's
        image, environment (`env` over it, as `-e`) and secrets."""
        api = Service(self, "api", **(env or {}))
        done = subprocess.run(
            [str(BIN / "studentgraph"), *args],
            cwd=self.root, env=api.env, input=stdin.decode() if stdin else None,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return done

    def stop_all(self) -> None:
        for service in reversed(self.running):
            service.kill()

    def tails(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.tail()}" for s in self.running)


class Service:
    """One compose service as a process."""

    def __init__(
        self, deployment: Deployment, name: str, ports: tuple[int, ...] = (), **env: str
    ) -> None:
        """`ports`: the container ports it listens on beyond those its spec names."""
        self.deployment, self.name = deployment, name
        self.spec: dict[str, Any] = dict(deployment.specs[name])
        container_ports = [*self._container_ports(), *ports]
        self.ports = {int(p): free_port() for p in container_ports}
        self.files = deployment.mounted(name)
        base = (
            deployment.app_env(name)
            if "studentgraph" in str(self.spec.get("command"))
            else {
                "PATH": f"{POSTGRES_BINS[-1] if POSTGRES_BINS else ''}:{os.environ['PATH']}",
                **{k: str(v) for k, v in (self.spec.get("environment") or {}).items()},
            }
        )
        self.env = {k: self.adapt(v) for k, v in {**base, **env}.items()}
        self.env = {k: "127.0.0.1" if v == "0.0.0.0" else v for k, v in self.env.items()}
        if name == "worker":  # its own /healthz and /metrics port
            self.env["WORKER_METRICS_PORT"] = str(self.port)
        self.log = (deployment.root / f"{name}-{secrets.token_hex(2)}.log").open("wb")
        self.proc: subprocess.Popen[bytes] | None = None
        self.as_postgres = False

    def _container_ports(self) -> list[str]:
        ports = [str(p).split(":")[-1] for p in self.spec.get("ports", [])]
        ports += [str(p) for p in self.spec.get("expose", [])]
        if self.name == "worker":
            ports.append(self.spec["environment"]["WORKER_METRICS_PORT"])
        return ports

    def adapt(self, text: str) -> str:
        return self.deployment.adapt(text, self.ports, self.files)

    def argv(self, command: list[str]) -> list[str]:
        out = []
        for arg in command:
            arg = {"studentgraph": str(BIN / "studentgraph"), "python": sys.executable}.get(
                arg, arg
            )
            arg = self.adapt(arg)
            arg = str(self.ports[int(arg)]) if arg.isdigit() and int(arg) in self.ports else arg
            out.append("127.0.0.1" if arg == "0.0.0.0" else arg)
        return out

    @property
    def port(self) -> int:
        [port] = self.ports.values()
        return port

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, command: list[str] | None = None) -> Service:
        """Runs its command (or `command`, already adapted); registers its addresses."""
        for container, port in self.ports.items():
            self.deployment.listen(self.name, container, port)
        user = (
            {"user": "postgres", "group": "postgres", "extra_groups": []}
            if self.as_postgres and ROOT_USER
            else {}
        )
        self.proc = subprocess.Popen(
            command or self.argv(self.spec["command"]),
            cwd=self.deployment.root,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: `kill` ends its children too
            **user,  # type: ignore[call-overload]
        )
        return self

    def healthcheck(self) -> list[str]:
        test = self.spec["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            return ["sh", "-c", " ".join(self.argv(test[1:]))]
        assert test[0] == "CMD", test
        return self.argv(test[1:])

    def wait_healthy(self, deadline: float) -> None:
        check = self.healthcheck()
        timeout = seconds(self.spec["healthcheck"].get("timeout", "5s"))
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            done = subprocess.run(check, env=self.env, capture_output=True, timeout=timeout)
            if done.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{self.name} never healthy: {done.stderr[-500:]!r}"
            time.sleep(0.3)

    def terminate(self) -> int:
        """SIGTERM, and its exit status within the service's stop_grace_period."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.exited()

    def exited(self) -> int:
        """Its exit status, within the service's stop_grace_period (as Docker waits after one
        SIGTERM; a second one, sent after the process restored the default handler on its way
        out, would kill it)."""
        assert self.proc is not None
        return self.proc.wait(seconds(self.spec.get("stop_grace_period", "10s")))

    def kill(self) -> None:
        """SIGKILL to it and every process it started (uvicorn's workers, nginx's, their
        helpers), as removing a container does."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]


def _networks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's networks in the long form (the short form is a list of names)."""
    networks = spec.get("networks") or {}
    if isinstance(networks, list):
        return {name: {} for name in networks}
    return {name: settings or {} for name, settings in networks.items()}


def postgres(deployment: Deployment, cluster: Cluster) -> None:
    """The `postgres` service on `cluster` (initialised, not started): started with the
    service's `-c` settings (files it names are the mounted ones, copied where the postgres user
    reads them) and its role and database made as the image's entrypoint does."""
    spec = deployment.specs["postgres"]
    command = spec["command"]
    settings = [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]
    for target, host in deployment.mounted("postgres").items():
        copy = cluster.root / Path(target).name
        copy.write_bytes(host.read_bytes())
        copy.chmod(0o644)
        settings = [s.replace(target, str(copy)) for s in settings]
    cluster.start(*settings)
    env = spec["environment"]
    password = env["POSTGRES_PASSWORD"].replace("'", "''")
    cluster.sql(f"CREATE ROLE \"{env['POSTGRES_USER']}\" SUPERUSER LOGIN PASSWORD '{password}'")
    cluster.sql(f'CREATE DATABASE "{env["POSTGRES_DB"]}" OWNER "{env["POSTGRES_USER"]}"')
    deployment.listen("postgres", 5432, cluster.port)
