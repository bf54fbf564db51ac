"""The mixed traffic of ``bench.soak``: API reads, writes and signatures, and on-chain requests.

HTTP operations are drawn (seeded) from ``MIX``: reads of keys and secrets, ``POST /keys/{id}/sign``,
and writes that stay bounded over any duration: secret versions on a pool of names, each name deleted
once it holds ``CHURN_VERSIONS`` versions and created again, and at most ``max_new_keys`` new keys (each
lives in the enclave's memory for good). Any status but the expected one, or no answer, is an error,
counted by route and status. On-chain requests alternate dice rolls (randomness) and oracle price
requests, sent by the committee account at a fixed rate; the worker answers them.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from neo3.core import types
from tests.e2e.chain.oracle_support import invoke
from tests.e2e.chain.stack import Stack

#: (operation, weight): reads 45 %, signatures 40 %, writes 15 %
MIX = (
    ("GET /keys", 10),
    ("GET /keys/{id}", 10),
    ("GET /secrets", 8),
    ("GET /secrets/{name}", 10),
    ("GET /secrets/{name}/versions", 7),
    ("POST /keys/{id}/sign", 40),
    ("PUT|DELETE /secrets/{name}", 14),
    ("POST /keys", 1),
)
STABLE_SECRETS = 5
CHURN_NAMES = 20
CHURN_VERSIONS = 8
SIGNING_KEYS = 4


@dataclass
class HttpLoad:
    """Runs one operation at a time of the mix against an API with a tenant API key."""

    client: httpx.AsyncClient
    rng: random.Random
    max_new_keys: int
    keys: list[str] = field(default_factory=list)
    stable: list[str] = field(default_factory=list)
    done: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, while ``recording``
    recording: bool = False
    new_keys: int = 0
    _versions: dict[str, int] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def prepare(self) -> None:
        """The keys that sign and the secrets that are only read, created once."""
        for i in range(SIGNING_KEYS):
            created = await self.client.post(
                "/api/v1/keys", json={"kind": "secp256r1", "label": f"soak {i}", "purposes": ["message"]}
            )
            created.raise_for_status()
            self.keys.append(created.json()["key_id"])
        for i in range(STABLE_SECRETS):
            name = f"soak/stable-{i}"
            for _ in range(3):
                (await self.client.put(f"/api/v1/secrets/{name}", json=self._value())).raise_for_status()
            self.stable.append(name)
        for i in range(CHURN_NAMES):
            self._versions[f"soak/churn-{i:02d}"] = 0
            self._locks[f"soak/churn-{i:02d}"] = asyncio.Lock()

    async def one(self) -> None:
        (operation,) = self.rng.choices([m[0] for m in MIX], weights=[m[1] for m in MIX])
        if operation == "POST /keys" and self.new_keys >= self.max_new_keys:
            operation = "PUT|DELETE /secrets/{name}"
        if operation == "PUT|DELETE /secrets/{name}":
            await self._churn()
            return
        key, name = self.rng.choice(self.keys), self.rng.choice(self.stable)
        calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "GET /keys": lambda: self.client.get("/api/v1/keys"),
            "GET /keys/{id}": lambda: self.client.get(f"/api/v1/keys/{key}"),
            "GET /secrets": lambda: self.client.get("/api/v1/secrets"),
            "GET /secrets/{name}": lambda: self.client.get(f"/api/v1/secrets/{name}"),
            "GET /secrets/{name}/versions": lambda: self.client.get(f"/api/v1/secrets/{name}/versions"),
            "POST /keys/{id}/sign": lambda: self.client.post(
                f"/api/v1/keys/{key}/sign",
                json={"message": secrets.token_hex(32), "purpose": "message"},
            ),
            "POST /keys": self._new_key,
        }
        await self._timed(operation, calls[operation], 201 if operation == "POST /keys" else 200)

    def _new_key(self) -> Awaitable[httpx.Response]:
        self.new_keys += 1
        body = {"kind": "secp256r1", "label": f"soak new {self.new_keys}", "purposes": ["message"]}
        return self.client.post("/api/v1/keys", json=body)

    async def _churn(self) -> None:
        """A new version of a pool secret, or its deletion once it holds ``CHURN_VERSIONS``."""
        name = self.rng.choice(list(self._versions))
        async with self._locks[name]:
            if self._versions[name] >= CHURN_VERSIONS:
                if await self._timed(
                    "DELETE /secrets/{name}", lambda: self.client.delete(f"/api/v1/secrets/{name}"), 204
                ):
                    self._versions[name] = 0
                return
            expected = 201 if self._versions[name] == 0 else 200
            if await self._timed(
                "PUT /secrets/{name}",
                lambda: self.client.put(f"/api/v1/secrets/{name}", json=self._value()),
                expected,
            ):
                self._versions[name] += 1

    async def _timed(
        self, operation: str, call: Callable[[], Awaitable[httpx.Response]], expected: int
    ) -> bool:
        began = time.perf_counter()
        try:
            response = await call()
        except httpx.HTTPError as exc:
            self.errors[(operation, type(exc).__name__)] += 1
            return False
        if self.recording:
            self.latencies.append(time.perf_counter() - began)
        if response.status_code != expected:
            self.errors[(operation, str(response.status_code))] += 1
            return False
        self.done[operation] += 1
        return True

    def _value(self) -> dict[str, object]:
        return {"value": secrets.token_urlsafe(48)}


async def closed_loop(load: HttpLoad, concurrency: int, seconds: float) -> float:
    """Operations per second with ``concurrency`` operations always in flight for ``seconds``."""
    before = sum(load.done.values()) + sum(load.errors.values())
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            await load.one()

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (sum(load.done.values()) + sum(load.errors.values()) - before) / (time.monotonic() - began)


async def open_loop(load: HttpLoad, rate: float, seconds: float, max_in_flight: int) -> float:
    """Start an operation every ``1/rate`` s for ``seconds``, whatever the answers' pace; an arrival
    finding ``max_in_flight`` operations unanswered is an error (the service fell behind). Returns the
    rate of operations started."""
    in_flight: set[asyncio.Task[None]] = set()
    began = time.monotonic()
    started = 0
    while True:
        due = began + started / rate
        if due - began >= seconds:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        started += 1
        if len(in_flight) >= max_in_flight:
            load.errors[("open loop", "backlog")] += 1
            continue
        task = asyncio.create_task(load.one())
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return started / (time.monotonic() - began)


@dataclass
class ChainLoad:
    """Dice rolls and oracle price requests, alternately, at ``rate`` per second until stopped."""

    stack: Stack
    dice: types.UInt160
    prices: types.UInt160
    ticker_url: str
    rate: float
    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        gate = asyncio.Semaphore(8)
        tasks: set[asyncio.Task[None]] = set()
        began = time.monotonic()
        index = 0
        while not self._stop.is_set():
            due = began + index / self.rate
            try:
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - time.monotonic()))
                break
            except TimeoutError:
                pass
            if gate.locked():  # eight sends unanswered: the node is behind; count, do not pile up
                self.failed["backlog"] += 1
            else:
                task = asyncio.create_task(self._send("randomness" if index % 2 == 0 else "oracle", gate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            index += 1
        await asyncio.gather(*tasks)

    def stop(self) -> None:
        self._stop.set()

    async def _send(self, service: str, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                if service == "randomness":
                    await self.stack.roll(self.dice)
                else:
                    await invoke(self.stack, self.prices, "requestPrice", self.ticker_url, "$.price")
            except Exception as exc:
                self.failed[f"{service}: {type(exc).__name__}"] += 1
                return
            self.sent[service] += 1
