"""A bare HTTP/1.1 endpoint on 127.0.0.1 that counts the TCP connections open to it at once (what a
per-endpoint limit bounds), can hold every request open until released, and records each request's
path and ``webhook-id``; started on a port given (a dead endpoint that comes back) or a free one."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field


def free_port() -> int:
    """A port nothing listens on (connection refused) until a server is started on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EndpointServer:
    port: int = 0
    #: while set, every request is answered only once ``release`` is set
    hold: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    open: int = 0
    max_open: int = 0
    #: (path, webhook-id) of each request, in arrival order
    hits: list[tuple[str, str]] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ids(self, path: str) -> list[str]:
        return [i for p, i in self.hits if p == path]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()
            self._server.close_clients()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            lowered = {k.lower(): v for k, v in fields.items()}
            await reader.readexactly(int(lowered.get("content-length", "0")))
            self.hits.append((head[0].split(" ")[1], lowered.get("webhook-id", "")))
            if self.hold:
                await self.release.wait()
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()
