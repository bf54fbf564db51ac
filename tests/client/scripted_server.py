"""A tiny HTTP server on loopback that answers from a script and records what it was sent: the retry,
idempotency and refresh tests need answers (429, 503, a dropped connection) a real API gives only by
chance, and the stream tests an event stream framed exactly so (cut off mid-event, ended early)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: an answer that closes the connection without a response (a connection error for the client)
DROP = "drop"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: bytes sent as they are (``text/event-stream``) instead of ``body`` as JSON
    raw: bytes | None = None
    #: announce more bytes than are sent, then close: the body breaks off (a connection error mid-body)
    cut: bool = False


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Script:
    """Answers per ``(method, path)``, used in order; the last one repeats."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[Answer | str]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def on(self, method: str, path: str, *answers: Answer | str) -> None:
        self.answers[(method, path)] = list(answers)

    def next(self, method: str, path: str) -> Answer | str:
        with self.lock:
            queue = self.answers.get((method, path))
            if not queue:
                return Answer(404, {"type": "https://example.test/problems/not-found", "status": 404})
            return queue.pop(0) if len(queue) > 1 else queue[0]


@dataclass
class ScriptedServer:
    base_url: str
    script: Script

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.script.seen if s.path.split("?", 1)[0] == path]


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            with script.lock:
                script.seen.append(
                    Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            answer = script.next(self.command, path)
            if answer == DROP:
                self.close_connection = True
                return
            assert isinstance(answer, Answer)
            if answer.raw is not None:
                payload, kind = answer.raw, "text/event-stream"
            else:
                payload = json.dumps(answer.body).encode() if answer.body is not None else b""
                kind = "application/problem+json" if answer.status >= 400 else "application/json"
            self.send_response(answer.status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(payload) + (100 if answer.cut else 0)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            if answer.cut:
                self.wfile.flush()
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ScriptedServer(f"http://127.0.0.1:{server.server_address[1]}", script)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
