"""A webhook receiver for tests and the bench: a small HTTP/1.1 server on 127.0.0.1 that keeps
each POST (headers and body) and answers with the status `answer` says (or holds the request
while `hold` is set)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    answer: Callable[[Delivery], int] = lambda _d: 204
    hold: asyncio.Event | None = None  # when given, each request waits until it is set
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def entries(self) -> list[dict[str, Any]]:
        return [e for d in self.deliveries for e in d.json["entries"]]

    async def wait_for(self, count: int, seconds: float = 20.0) -> list[dict[str, Any]]:
        """Until `count` entries arrived (accepted or not)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while len(self.entries()) < count:
            assert loop.time() < deadline, f"{len(self.entries())} entries of {count}"
            await asyncio.sleep(0.02)
        return self.entries()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                delivery = Delivery(headers, body)
                self.deliveries.append(delivery)
                self.arrived.set()
                if self.hold is not None:
                    await self.hold.wait()
                status = self.answer(delivery)
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiving(port: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", port)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)
