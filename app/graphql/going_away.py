"""WebSockets closed with 1001 (Going Away) when the server stops (docs/operations/processes.md).

On SIGTERM or SIGINT uvicorn stops accepting connections, lets in-flight HTTP requests finish,
and closes every WebSocket with 1012 (Service Restart). A process stopped for good (scaled down,
redeployed elsewhere) is going away, and graphql-ws clients treat the two alike (they reconnect,
to another process behind the load balancer), but 1001 is what the protocol says. So the app's
lifespan puts a handler of its own before uvicorn's: it closes the process's open WebSockets
with 1001 first (each waits for the client's close, `CLOSE_SECONDS` at most), then hands the
signal to uvicorn, whose shutdown goes on as before. Installed only in front of uvicorn's own
handler, in the main thread: a test's lifespan or another server is left as it is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from starlette.types import Send

log = logging.getLogger("app")
GOING_AWAY = 1001
REASON = "the server is shutting down"
CLOSE_SECONDS = 5.0
OPEN: set[Send] = set()  # the ASGI `send` of each WebSocket open in this process
SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def close_all() -> None:
    """Every open WebSocket closed with 1001, at once; an error closing one spares the others."""
    message = {"type": "websocket.close", "code": GOING_AWAY, "reason": REASON}
    sends = list(OPEN)
    OPEN.clear()
    if sends:
        log.info("closing WebSockets: going away", extra={"websockets": len(sends)})
        async with asyncio.timeout(CLOSE_SECONDS):
            await asyncio.gather(*(send(message) for send in sends), return_exceptions=True)


def _is_uvicorns(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("uvicorn.")


@contextlib.contextmanager
def before_uvicorn_stops() -> Iterator[None]:
    """While inside, SIGTERM and SIGINT close the WebSockets with 1001 before uvicorn sees them
    (a second signal goes straight to uvicorn: it forces the exit, as without this)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    ours: dict[signal.Signals, Callable[[int, FrameType | None], Any]] = {
        sig: handler
        for sig, handler in previous.items()
        if callable(handler) and _is_uvicorns(handler)
    }
    tasks: set[asyncio.Task[None]] = set()

    def handle(signum: int, frame: FrameType | None) -> None:
        uvicorns = ours[signal.Signals(signum)]
        for sig, handler in ours.items():  # a second signal: uvicorn's at once
            signal.signal(sig, handler)

        async def then() -> None:
            with contextlib.suppress(Exception):
                await close_all()
            uvicorns(signum, frame)

        task = loop.create_task(then())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for sig in ours:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig in ours:
            if signal.getsignal(sig) is handle:
                signal.signal(sig, previous[sig])
