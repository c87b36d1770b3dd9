"""Load: wrk (HTTP/1.1 keep-alive, a fixed number of connections) with a Lua script that sends
one scenario's request, round robin over netids; and a sequential client for paging."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.peer.cpu import Cost

LUA = r"""
local keys = {}
for line in io.lines("%(keys)s") do keys[#keys + 1] = line end
local body = [==[%(body)s]==]
local path = [==[%(path)s]==]
local headers = %(headers)s
local i = 0
request = function()
  i = i + 1
  local key = keys[(i %% #keys) + 1]
  local b = nil
  if #body > 0 then b = body:gsub("@KEY@", key) end
  return wrk.format("%(method)s", path:gsub("@KEY@", key), headers, b)
end
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Request:
    """One scenario's request for one system; `@KEY@` in the path or body is a netid."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0  # completed in the run (wrk's count)


def lua_script(request: Request, keys_file: Path, out: Path) -> Path:
    headers = ", ".join(f'["{k}"] = "{v}"' for k, v in request.headers)
    out.write_text(
        LUA
        % {
            "keys": keys_file,
            "body": request.body.decode(),
            "path": request.path,
            "headers": "{" + headers + "}",
            "method": request.method,
        }
    )
    return out


def wrk(url: str, script: Path, *, seconds: float, connections: int = 8) -> Result:
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
    command = ["wrk", "-t2", f"-c{connections}", duration, "--latency", "-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    done = re.search(r"(\d+) requests in ", output)
    return Result(
        rps,
        _percentile(output, "50%"),
        _percentile(output, "99%"),
        int(errors.group(1)) if errors else 0,
        int(done.group(1)) if done else round(rps * round(seconds)),
    )


def _percentile(output: str, which: str) -> float:
    match = re.search(rf"^\s+{re.escape(which)}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    assert match, output
    return float(match.group(1)) * UNITS[match.group(2)]


Fetch = Callable[[httpx.Client], Any]


def alternating_fetches(
    fetches: dict[str, tuple[Fetch, str]],
    times: int,
    meter: Callable[[str], Callable[[], Cost]] | None = None,
) -> dict[str, list[tuple[float, Cost | None]]]:
    """Seconds each complete fetch took, per system (one keep-alive client each, sequential
    requests), the systems taking turns so that load from elsewhere hits all of them; with
    `meter` (started for a system, read after its fetch), the CPU each fetch cost too."""
    clients = {
        name: httpx.Client(base_url=base, timeout=120) for name, (_, base) in fetches.items()
    }
    seconds: dict[str, list[tuple[float, Cost | None]]] = {name: [] for name in fetches}
    try:
        for name, (fetch, _) in fetches.items():
            fetch(clients[name])  # warm
        for _ in range(times):
            for name, (fetch, _) in fetches.items():
                read = meter(name) if meter else None
                started = time.perf_counter()
                fetch(clients[name])
                took = time.perf_counter() - started
                seconds[name].append((took, read() if read else None))
    finally:
        for client in clients.values():
            client.close()
    return seconds


def post_json(client: httpx.Client, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = client.post(path, content=orjson.dumps(body), headers=headers)
    response.raise_for_status()
    return orjson.loads(response.content)
