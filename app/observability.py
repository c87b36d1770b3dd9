"""Structured JSON logs with a request id, and Prometheus metrics.

The middleware is plain ASGI (no BaseHTTPMiddleware) so it adds no task per request."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import uuid
from typing import Any

import orjson
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import tracing
from app.errors import PayloadTooLarge
from app.metrics import LATENCY, REQUESTS, UNMATCHED, method_label

log = logging.getLogger("app.access")
# scope["state"] key: headers every answer to the request carries (app.state.add_response_headers)
RESPONSE_HEADERS = "response_headers"
# A record's own attributes, and uvicorn's `color_message` (the message again, with ANSI escapes
# for a terminal): not fields of a JSON line.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"color_message"}
# PostgreSQL's error details quote the row's values (`DETAIL: Key (dplan_id)=(R) is not
# present ...`): a D-plan code, a requester's email. The column names stay, the values go.
_KEY_VALUES = re.compile(r"(Key \([^)]*\)=\().*?(\)( |$))", re.MULTILINE)


def redact(text: str) -> str:
    """`text` without the row values a database error quotes."""
    return _KEY_VALUES.sub(r"\1...\2", text) if "Key (" in text else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if isinstance(entry.get("error"), str):
            entry["error"] = redact(entry["error"])
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx says every request it sends at INFO (the JWKS fetch): its URL, not an event of ours.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


class RouteTemplates:
    """The label of a request's route: its template (`/api/students/{netid}`, a mount's
    `/graphql/static/{path}`), never the path itself, and "unmatched" for every path no route
    serves, so a client cannot make new series. Built from the app's routes at the first
    request (all are added by then), included routers' prefixes in."""

    def __init__(self) -> None:
        self.by_route: dict[int, str] = {}
        self.by_mount: dict[str, str] = {}
        self.built = False

    def build(self, app: Any) -> None:
        # Imported here: worker processes use this module (logging) and never need FastAPI.
        from fastapi.routing import iter_route_contexts

        for context in iter_route_contexts(app.routes):
            template = context.path_format
            if template is None:
                continue
            route = context.original_route
            self.by_route[id(route)] = template
            if isinstance(route, Mount):
                self.by_mount[template.removesuffix("/{path}")] = template
        self.built = True

    def label(self, scope: Scope, root_path: str) -> str:
        if not self.built:
            self.build(scope["app"])
        route = scope.get("route")
        if route is not None:
            return self.by_route.get(id(route), UNMATCHED)
        # A mount's app is reached without `route` in the scope; its prefix is in root_path.
        mounted = str(scope.get("root_path", ""))[len(root_path) :]
        return self.by_mount.get(mounted, UNMATCHED) if mounted else UNMATCHED


class RequestContextMiddleware:
    """Gives each HTTP request an id (`X-Request-ID`), logs one line for it, and counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = str(scope.get("root_path", ""))
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
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
                _add_headers(headers, state.get(RESPONSE_HEADERS, {}))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = self.routes.label(scope, root_path)
            method = method_label(scope["method"])
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            access_line(request_id, scope["method"], scope["path"], route, status, elapsed)


def _add_headers(headers: list[tuple[bytes, bytes]], extra: dict[str, str]) -> None:
    """Headers the request's handlers asked every answer to carry (app.state.add_response_headers),
    unless the response has its own."""
    present = {k.lower() for k, _ in headers}
    for name, value in extra.items():
        if name.lower().encode() not in present:
            headers.append((name.lower().encode(), value.encode()))


def access_line(
    request_id: str, method: str, path: str, route: str, status: int, elapsed: float
) -> None:
    """The access log: one JSON line per request."""
    fields = {"request_id": request_id, "method": method, "path": path, "route": route}
    info_line(log, "request", **fields, status=status, ms=round(elapsed * 1000, 2))


def info_line(logger: logging.Logger, msg: str, **fields: Any) -> None:
    """One INFO line in JsonFormatter's shape, written straight to stderr (the access log, a
    task's line). Through `logging` (a LogRecord, the formatter's walk over its attributes, the
    handler's lock) it cost more than answering a small request; this costs one small orjson
    dump and one write."""
    if not logger.isEnabledFor(logging.INFO):
        return
    entry = {"ts": round(time.time(), 3), "level": "info", "logger": logger.name, "msg": msg}
    entry.update(fields)
    with contextlib.suppress(OSError):  # stderr gone (a closed pipe): the work is still done
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
