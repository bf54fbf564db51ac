"""A live installation with a chain for the console's browser tests: the e2e stack (neo-go privnet with
the service contracts, the real enclave, SQLite), ``nsl serve`` on it, ``nsl worker`` when the test
starts it, a loopback webhook receiver that fails until the test flips it, and a loopback price source.

The stack's coroutines run on an event loop of their own thread, so the (synchronous) Playwright tests
can call them. Accounts are made as in ``live.py``: the CLI creates the superadmin, the rest is HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.browser.live import Account, LiveConsole, _bootstrap
from tests.contracts.contract_support import build_contracts
from tests.e2e.chain.stack import Stack, close_stack, open_stack
from tests.e2e.readme_support import NSL
from tests.http.serverproc import running_server

FEED_PAIR = "NEO/USD"


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run[T](self, coroutine: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class Receiver:
    """Webhooks on ``/hook``: 500 while ``failing``, else 200; every hit as (webhook-id, answered)."""

    url: str = ""
    failing: bool = True
    hits: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, status: int) -> list[str]:
        with self.lock:
            return [i for i, s in self.hits if s == status]


@dataclass
class PriceSource:
    """``/price`` answers ``{"price": value}``; the test moves ``value``."""

    url: str = ""
    value: float = 100.0


@contextmanager
def _loopback(receiver: Receiver, source: PriceSource) -> Iterator[None]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.lock:
                status = 500 if receiver.failing else 200
                receiver.hits.append((self.headers.get("webhook-id", ""), status))
            self._reply(status, b"{}")

        def do_GET(self) -> None:
            self._reply(200, json.dumps({"price": source.value}).encode())

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    receiver.url, source.url = f"{base}/hook", f"{base}/price"
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class ChainConsole:
    live: LiveConsole
    stack: Stack
    loop: LoopThread
    receiver: Receiver
    source: PriceSource
    root_password: str = field(repr=False, default="")

    def start_worker(self) -> None:
        if not any(w.poll() is None for w in self.stack.workers):
            self.stack.start_worker()

    def superadmin(self, username: str) -> Account:
        """Another superadmin (CLI), TOTP enrolled through the API: an operator for the browser."""
        password = secrets.token_urlsafe(18)
        _create_superadmin(self.stack, username, password)
        account = Account(username, password, "")
        account.totp_secret = self.live._enrol(account)
        return account


def _create_superadmin(stack: Stack, username: str, password: str) -> None:
    result = subprocess.run(
        [str(NSL), "admin", "create-superadmin", "--username", username, "--password-stdin"],
        env=_process_env(stack),
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _process_env(stack: Stack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_") or k.startswith("NSL_TEST_")}
    return {**env, **stack.env}


def _feed(source: PriceSource) -> list[dict[str, Any]]:
    return [
        {
            "pair": FEED_PAIR,
            "description": "NEO / US dollar (loopback source)",
            "decimals": 8,
            "deviation": "0.001",
            "heartbeat_seconds": 3600,
            "quorum": 1,
            "sources": [{"name": "loopback", "url": source.url, "path": "$.price"}],
        }
    ]


@contextmanager
def chain_console() -> Iterator[ChainConsole]:
    """The stack, its API and bootstrap; every process stopped and the loop closed on exit."""
    build_contracts()
    receiver, source = Receiver(), PriceSource()
    loop = LoopThread()
    try:
        with _loopback(receiver, source):
            stack = loop.run(
                open_stack(
                    block_time=0.5,
                    oracle_allow_hosts="127.0.0.1",
                    oracle_allow_http="true",
                    subscriptions_max_attempts="1",
                    feed_interval_seconds="1",
                    feeds=json.dumps(_feed(source)),
                )
            )
            try:
                env = {k: v for k, v in stack.env.items() if k.startswith("NSL_") and k != "NSL_DATA_DIR"}
                env["NSL_RATE_LIMIT_ENABLED"] = "false"
                with running_server(stack.directory, env) as server:
                    root_password = secrets.token_urlsafe(18)
                    _create_superadmin(stack, "root", root_password)
                    with httpx.Client(base_url=server.base_url, timeout=30) as http:
                        live = LiveConsole(server.base_url, http)
                        _bootstrap(live, root_password)
                        yield ChainConsole(live, stack, loop, receiver, source, root_password)
            finally:
                loop.run(close_stack(stack))
                shutil.rmtree(stack.directory, ignore_errors=True)
    finally:
        loop.stop()
