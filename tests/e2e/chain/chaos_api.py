"""The API in the chaos run: ``nsl serve`` as a subprocess of the stack and a client that keeps calling
it (off-chain randomness, the on-chain request-state routes and, with ``writes``, secrets and oracle
templates written: ``chaos_writes.py``) while it, the enclave, the node or the database server are killed.

What is checked (``ApiClient.check``): the API never answers 500 (a dependency that is down is a 503);
every off-chain answer it gave verifies (an answer is whole or not given: the client sees a closed
connection or an error, never a half answer); after each restart of the API a client is answered again;
every write it acknowledged is there with its value, and none is there twice or with another value;
and at the end the API reports every on-chain request the chain holds as delivered.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from neo_service_layer.kernel.chain.adapters.privnet import find_free_port
from tests.e2e.chain.chaos_writes import SCOPES as WRITE_SCOPES
from tests.e2e.chain.chaos_writes import ApiWrites, WriteReport
from tests.e2e.chain.stack import Stack, tenant_api_key

SCOPES = ["randomness:request", "oracle:request", *WRITE_SCOPES]
#: the route that shows a service's on-chain request, by service (``chaos_checks.SERVICES``)
STATE_ROUTES = {"randomness": "/api/v1/randomness/requests/", "oracle": "/api/v1/oracle/requests/"}


async def api_key(stack: Stack) -> str:
    """A tenant and an API key for the run."""
    return await tenant_api_key(stack, "chaos", SCOPES)


@dataclass
class ApiReport:
    statuses: Counter[int] = field(default_factory=Counter)  # answers, by HTTP status
    cut: int = 0  # calls that got no answer (the API down, or killed under the call)
    unexpected: list[str] = field(default_factory=list)  # any answer but 200 and 503
    restarts: int = 0
    answered_after_restart: int = 0  # restarts after which a call was answered 200 again
    offchain_answers: int = 0
    offchain_invalid: list[str] = field(default_factory=list)  # answers /verify does not accept
    state_wrong: list[str] = field(default_factory=list)  # on-chain requests the API shows otherwise
    writes: WriteReport | None = None  # with ``ApiClient.writes``

    @property
    def ok(self) -> bool:
        written = self.writes is None or self.writes.ok
        return written and not (self.unexpected or self.offchain_invalid or self.state_wrong)


class ApiClient:
    """``nsl serve`` on a free loopback port, and a client calling it every ``pace`` seconds."""

    def __init__(self, stack: Stack, key: str, pace: float = 0.1) -> None:
        self.stack = stack
        self.port = find_free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.pace = pace
        self.report = ApiReport()
        self.process: subprocess.Popen[bytes] | None = None
        self.in_flight = 0
        self._answers: list[dict[str, Any]] = []
        self._restarted_at: float | None = None
        self._stop = asyncio.Event()
        self.writes: ApiWrites | None = None  # set: a third of the calls are writes

    async def start(self) -> None:
        with (self.stack.directory / "api.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"],
                env={**self.stack.env, "NSL_HTTP_PORT": str(self.port), "NSL_SHUTDOWN_GRACE_SECONDS": "2"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while True:
                assert self.process.poll() is None, (self.stack.directory / "api.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the API did not start"
                try:
                    if (await client.get("/health/live")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)

    async def kill(self, down: float, timeout: float = 10.0) -> bool:
        """SIGKILL the API once a call is in flight (False if none was within ``timeout``), restart it."""
        deadline = time.monotonic() + timeout
        while self.in_flight == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        landed = self.in_flight > 0
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        await asyncio.sleep(down)
        await self.start()
        self.report.restarts += 1
        self._restarted_at = time.monotonic()
        return landed

    def halt(self) -> None:
        """End ``drive`` after its current call."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def drive(self) -> None:
        """Call the API until ``stop``: off-chain randomness, the state of on-chain request 1 and, with
        ``writes``, a write, in turn."""
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=10.0) as client:
            turn = 0
            while not self._stop.is_set():
                turn += 1
                if self.writes is not None and turn % 3 == 0:
                    write, method, path, body = self.writes.next()
                    self.writes.answered(write, await self._call(client, method, path, body, (201,)))
                elif turn % 2:
                    answer = await self._call(client, "POST", "/api/v1/randomness", {"numWords": 2})
                    if answer is not None and answer.status_code == 200:
                        self._answers.append(answer.json())
                else:  # 404: no request 1 yet
                    await self._call(client, "GET", STATE_ROUTES["randomness"] + "1", None, (200, 404))
                await asyncio.sleep(self.pace)

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any, expected: tuple[int, ...] = (200,)
    ) -> httpx.Response | None:
        """The answer (``None``: cut off); any status but ``expected`` and 503 is unexpected."""
        self.in_flight += 1
        try:
            answer = await client.request(method, path, json=body)
        except httpx.TransportError:
            self.report.cut += 1
            return None
        finally:
            self.in_flight -= 1
        self.report.statuses[answer.status_code] += 1
        if answer.is_success and self._restarted_at is not None:
            self.report.answered_after_restart += 1
            self._restarted_at = None
        if answer.status_code not in (*expected, 503):
            self.report.unexpected.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        return answer

    async def check(self, requested: dict[str, set[int]]) -> ApiReport:
        """Verify the off-chain answers and read the state of every on-chain request through the API."""
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=10.0) as client:
            for answer in self._answers:
                verdict = await _within_limits(partial(client.post, "/api/v1/randomness/verify", json=answer))
                if verdict.status_code != 200 or verdict.json().get("valid") is not True:
                    self.report.offchain_invalid.append(f"{answer['requestId']}: {verdict.text[:200]}")
            self.report.offchain_answers = len(self._answers)
            if self.writes is not None:
                self.report.writes = await self.writes.check(client, _get_within_limits, _post_within_limits)
            for service, ids in requested.items():
                for rid in sorted(ids) if service in STATE_ROUTES else ():  # Neo's native Oracle: none
                    state = await _get_within_limits(client, f"{STATE_ROUTES[service]}{rid}")
                    status = state.json().get("status") if state.status_code == 200 else state.status_code
                    if status != "delivered":
                        self.report.state_wrong.append(f"{service}#{rid}: {status}")
        return self.report


async def _within_limits(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """``call``, waited out while the tenant's rate limit answers 429 (the final check reads every
    request: a thousand-request run goes past the default 1,000 calls a minute)."""
    while True:
        answer = await call()
        if answer.status_code != 429:
            return answer
        await asyncio.sleep(float(answer.headers.get("retry-after", "1")))


async def _get_within_limits(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return await _within_limits(partial(client.get, path))


async def _post_within_limits(client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    return await _within_limits(partial(client.post, path, json=body))
