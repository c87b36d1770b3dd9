"""Structured JSON logs with a request id, and Prometheus metrics.

The middleware is plain ASGI (no BaseHTTPMiddleware) so it adds no task per request."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import tracing
from app.errors import PayloadTooLarge
from app.metrics import LATENCY, REQUESTS

log = logging.getLogger("app.access")
# A record's own attributes, and uvicorn's `color_message` (the message again, with ANSI escapes
# for a terminal): not fields of a JSON line.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _route_label(path: str) -> str:
    # Bounded label values: never a netid or id in a metric name.
    parts = path.strip("/").split("/")
    if parts[:1] == ["api"]:
        return "/api/" + "/".join("{}" if i % 2 == 0 else p for i, p in enumerate(parts[1:], 1))
    return "/" + parts[0] if parts and parts[0] else "/"


class RequestContextMiddleware:
    """Gives each HTTP request an id (`X-Request-ID`), logs one line for it, and counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        tracing.annotate({tracing.REQUEST_ID: request_id})  # on the request's span, if traced
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope["path"])
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                access_line(request_id, scope["method"], scope["path"], status, elapsed)


def access_line(request_id: str, method: str, path: str, status: int, elapsed: float) -> None:
    """The access log: one JSON line per request, in JsonFormatter's shape, written straight to
    stderr. Through `logging` (a LogRecord, the formatter's walk over its attributes, the
    handler's lock) it cost more than answering a small request; this costs one small orjson
    dump and one write."""
    entry = {
        "ts": round(time.time(), 3),
        "level": "info",
        "logger": log.name,
        "msg": "request",
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "ms": round(elapsed * 1000, 2),
    }
    with contextlib.suppress(OSError):  # stderr gone (a closed pipe): still answered
        os.write(2, orjson.dumps(entry) + b"\n")


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes`, declared or streamed.

    It raises `PayloadTooLarge` from the handler's own read of the body, so each edge answers
    413 in its own error shape (REST's JSON, or a GraphQL error) rather than in plain text."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise PayloadTooLarge(self._message())
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, receive_within_limit, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"
