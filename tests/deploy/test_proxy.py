"""deploy/nginx.conf in front of the compose deployment (its `proxy` service).

Debian's nginx (installed when missing, as root, its packaged service not let start) runs as a
process of the test's own with its own prefix, on a copy of the committed file that differs only
in addresses and paths: the listen ports, the api's address, the secrets' files, the pid file and
the temporary directories (Debian's build puts them under /var/lib/nginx). The certificate is a
self-signed one made here; the api trusts the forwarded headers of the proxy's address only
(compose's FORWARDED_ALLOW_IPS, the proxy's fixed address, is 127.0.0.2 here, which nginx
connects from: `proxy_bind`), and clients connect from other addresses of 127.0.0.0/8.

Through the proxy: TLS, plain HTTP redirected; the key exchanged and the token on GraphQL and
REST; X-Forwarded-Proto (a redirect the api builds says https); X-Forwarded-For (the per-address
limit of POST /api/jwt counts each client's own address, and a forged header changes nothing, at
the proxy or straight at the api); a graphql-transport-ws subscription over wss:// following a
task to COMPLETE; a body of exactly MAX_BODY_BYTES passed, one byte more refused with the api's
own 413 for that door; /metrics not served; and clients too slow with their headers or their body
cut off by the proxy."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from app.config import Settings
from tests.deploy.compose import FIXED_ADDRESS, ROOT, Deployment, Service, operator_environment
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
    service_account,
    up,
)
from tests.infra import ensure_debian_package

NGINX = "/usr/sbin/nginx"
MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default
TASK_UPDATED = "subscription($id: String!) { taskUpdated(taskId: $id) { status } }"


@pytest.mark.slow  # about 35 s, 10 of them waiting for the proxy to cut slow clients off
async def test_the_proxy(cluster_root):
    if not ensure_debian_package(NGINX, "nginx"):
        pytest.skip("needs Debian's nginx (installed by the tests when run as root)")
    operator = {**operator_environment(cluster_root), "METRICS_ENABLED": "true"}
    with deployed(operator, cluster_root) as (deployment, cluster):
        _, api, _ = up(deployment, cluster, workers=1)
        proxy = start_proxy(deployment)
        tls = ssl.create_default_context(cafile=operator["TLS_CERTIFICATE_FILE"])
        await _through(deployment, api, proxy, tls)


def start_proxy(deployment: Deployment) -> Service:
    proxy = deployment.service("proxy")
    root = deployment.root
    temporary = "".join(
        f"\n    {kind}_temp_path {root}/nginx-{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    own_address = f"\n    proxy_bind {FIXED_ADDRESS};"  # compose gives it a fixed address
    deployment.adapted_file(
        ROOT / "deploy" / "nginx.conf",
        "/etc/nginx/studentgraph.conf",
        {
            "pid /tmp/nginx.pid;": f"pid {root}/nginx.pid;",
            "listen 8080;": f"listen 127.0.0.1:{proxy.ports[8080]};",
            "listen 8443 ssl;": f"listen 127.0.0.1:{proxy.ports[8443]} ssl;",
            "\nhttp {": "\nhttp {" + temporary + own_address,
        },
        files=deployment.mounted("proxy"),
    )
    proxy.files = deployment.mounted("proxy")
    command = proxy.argv(proxy.spec["command"])
    assert command[0] == "nginx"
    proxy.start([NGINX, *command[1:], "-p", f"{root}/", "-e", "stderr"])
    proxy.wait_healthy(time.monotonic() + 20)
    return proxy


async def _through(
    deployment: Deployment, api: Service, proxy: Service, tls: ssl.SSLContext
) -> None:
    load_students(deployment)
    key = service_account(deployment)
    https = f"https://127.0.0.1:{proxy.ports[8443]}"
    slow = asyncio.gather(_slow_headers(proxy, tls), _slow_body(proxy, tls))
    async with httpx.AsyncClient(base_url=https, verify=tls, timeout=10) as client:
        plain = await client.get(f"http://127.0.0.1:{proxy.ports[8080]}/readyz")
        assert plain.status_code == 308 and plain.headers["Location"] == "https://127.0.0.1/readyz"
        token = await exchange(client, key)
        client.headers["Authorization"] = f"Bearer {token}"
        await reads(client)
        await _forwarded_proto(client, api)
        await _subscription(client, https, tls, token)
        await _bodies(client, api)
        await _metrics(client, api)
    await _forwarded_for(api, https, tls)
    assert await slow == [True, True]


async def _forwarded_proto(client: httpx.AsyncClient, api: Service) -> None:
    """The api builds its redirects from the scheme the proxy forwards."""
    path = f"/api/students/{NETIDS[0]}/terms/"
    proxied = await client.get(path)
    direct = await client.get(f"http://{api.url}{path}")
    assert proxied.status_code == direct.status_code == 307
    assert proxied.headers["Location"].startswith("https://127.0.0.1")
    assert direct.headers["Location"].startswith("http://127.0.0.1")


async def _subscription(
    client: httpx.AsyncClient, https: str, tls: ssl.SSLContext, token: str
) -> None:
    """graphql-transport-ws over wss:// through the proxy: a task followed to COMPLETE."""
    task = (await gql(client, SET_DPLANS, n=NETIDS[1], d=[dplan("202301", "R")]))["setDplans"]
    url = https.replace("https://", "wss://") + "/graphql"
    protocol = [Subprotocol("graphql-transport-ws")]
    async with websockets.connect(url, ssl=tls, subprotocols=protocol) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        payload = {"query": TASK_UPDATED, "variables": {"id": task["taskId"]}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        statuses = []
        while (message := json.loads(await asyncio.wait_for(ws.recv(), 15)))["type"] == "next":
            statuses.append(message["payload"]["data"]["taskUpdated"]["status"])
        assert message == {"id": "1", "type": "complete"}
        assert statuses[-1] == "COMPLETE", statuses


async def _bodies(client: httpx.AsyncClient, api: Service) -> None:
    """A body of exactly MAX_BODY_BYTES goes through; one byte more is refused by the proxy
    with the api's own answer for that door (REST's JSON, or a GraphQL error)."""
    document = json.dumps({"query": STUDENT, "variables": {"n": NETIDS[0]}}).encode()
    exact = document + b" " * (MAX_BODY_BYTES - len(document))
    json_body = {"Content-Type": "application/json"}
    passed = await client.post("/graphql", content=exact, headers=json_body)
    assert passed.status_code == 200 and passed.json()["data"]["student"]["netid"] == NETIDS[0]
    for method, path in (("POST", "/graphql"), ("PATCH", f"/api/students/{NETIDS[0]}")):
        over = exact + b" "
        proxied = await client.request(method, path, content=over, headers=json_body)
        direct = await client.request(
            method, f"http://{api.url}{path}", content=over, headers=json_body
        )
        assert proxied.status_code == direct.status_code == 413, proxied.text
        assert proxied.json() == direct.json()
        assert proxied.headers["Content-Type"] == "application/json"


async def _metrics(client: httpx.AsyncClient, api: Service) -> None:
    """/metrics (unauthenticated) is the api's, never the proxy's: the api's own 404."""
    served = await client.get(f"http://{api.url}/metrics")
    assert served.status_code == 200 and "studentgraph_requests_total" in served.text
    hidden = await client.get("/metrics")
    unknown = await client.get(f"http://{api.url}/no-such-path")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()


async def _forwarded_for(api: Service, https: str, tls: ssl.SSLContext) -> None:
    """The per-address limit of POST /api/jwt (60 a minute) counts the client the proxy saw,
    whatever X-Forwarded-For it sent; straight at the api the header is not believed."""

    def client(base: str, address: str) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(verify=tls, local_address=address)
        return httpx.AsyncClient(base_url=base, transport=transport, timeout=10)

    async def attempt(on: httpx.AsyncClient, forged: str) -> int:
        headers = {"Authorization": "not-a-key", "X-Forwarded-For": forged}
        return (await on.post("/api/jwt", headers=headers)).status_code

    statuses: list[int] = []
    async with client(https, "127.0.0.4") as busy:
        while 429 not in statuses and len(statuses) < 120:
            statuses.append(await attempt(busy, f"10.0.{len(statuses)}.1"))
    assert statuses[-1] == 429 and statuses.count(401) >= 60, statuses
    async with client(https, "127.0.0.5") as other:
        assert await attempt(other, "127.0.0.4") == 401
    async with client(f"http://{api.url}", "127.0.0.3") as direct:
        assert await attempt(direct, "127.0.0.4") == 401


async def _stalled(proxy: Service, tls: ssl.SSLContext, sent: bytes) -> bool:
    """Whether the proxy closes a connection that sent `sent` and then nothing, within 20 s (its
    client_header_timeout and client_body_timeout are 10 s)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", proxy.ports[8443], ssl=tls, server_hostname="127.0.0.1"
    )
    writer.write(sent)
    await writer.drain()
    try:
        answer: Any = await asyncio.wait_for(reader.read(), 20)
    except TimeoutError:
        return False
    except (ConnectionError, ssl.SSLError):  # closed without TLS's goodbye: closed all the same
        return True
    finally:
        writer.close()
    return answer == b"" or answer.startswith(b"HTTP/1.1 408")


async def _slow_headers(proxy: Service, tls: ssl.SSLContext) -> bool:
    return await _stalled(proxy, tls, b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")


async def _slow_body(proxy: Service, tls: ssl.SSLContext) -> bool:
    head = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    return await _stalled(proxy, tls, head + b'{"query": "')


def test_the_proxy_refuses_bodies_at_the_apis_limit():
    """nginx's client_max_body_size is the api's MAX_BODY_BYTES (compose leaves it at its
    default), and its 413s name that number as the api's do."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    number, unit = re.search(r"client_max_body_size (\d+)([km]?);", conf).groups()  # type: ignore[union-attr]
    assert int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit] == MAX_BODY_BYTES
    assert conf.count(f"larger than {MAX_BODY_BYTES} bytes") == 2
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "MAX_BODY_BYTES" not in compose
