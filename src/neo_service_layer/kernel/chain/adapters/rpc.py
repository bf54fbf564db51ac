"""Several Neo RPC endpoints behind one object: failover and health tracking.

Each call goes to the endpoint that answered last (sticky, so consecutive reads see one node's view).
A transport failure (connection refused or reset, timeout, HTTP error) marks that endpoint down for a
back-off that doubles with each consecutive failure, and the call moves on to the next endpoint. An
answer with a JSON-RPC error is an answer: the endpoint is healthy and the error is raised as is.
When every endpoint is down the call still tries them all (the oldest back-off first) before raising
``ChainUnavailable``, so a recovered node is found on the next call, not after its back-off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable

E = TypeVar("E")
T = TypeVar("T")

#: exceptions that mean "this endpoint did not answer" (as opposed to a JSON-RPC error answer)
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    aiohttp.ClientError,
    ValueError,  # a body that is not JSON (proxy error page)
)


@dataclass
class EndpointHealth:
    url: str
    healthy: bool = True
    consecutive_failures: int = 0
    down_until: float = 0.0
    last_error: str = ""
    last_ok: float | None = None
    calls: int = 0
    failures: int = 0


#: more doublings than any back-off cap needs (2**62 seconds), fewer than a float can hold
_MAX_DOUBLINGS = 62


class RpcPool[E]:
    """Failover over ``endpoints`` (objects with the RPC methods), in configured order of preference."""

    def __init__(
        self,
        endpoints: Sequence[tuple[str, E]],
        *,
        base_backoff: float = 1.0,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        transport_errors: tuple[type[BaseException], ...] = TRANSPORT_ERRORS,
        network: str = "Neo",
    ) -> None:
        """``transport_errors``: what means "this endpoint did not answer" for these endpoints (the Neo
        default, or the EVM adapter's own); ``network`` names the chain in ``ChainUnavailable``."""
        if not endpoints:
            raise ValueError("at least one RPC endpoint is needed")
        self._endpoints = list(endpoints)
        self._health = [EndpointHealth(url) for url, _ in endpoints]
        self._current = 0
        self._base = base_backoff
        self._max = max_backoff
        self._clock = clock
        self._transport_errors = transport_errors
        self._network = network

    @property
    def health(self) -> list[EndpointHealth]:
        return list(self._health)

    @property
    def current_url(self) -> str:
        return self._health[self._current].url

    def _order(self) -> list[int]:
        now = self._clock()
        n = len(self._endpoints)
        rotation = [(self._current + i) % n for i in range(n)]
        up = [i for i in rotation if self._health[i].down_until <= now]
        down = sorted(
            (i for i in rotation if self._health[i].down_until > now),
            key=lambda i: self._health[i].down_until,
        )
        return up + down

    async def call(self, operation: Callable[[E], Awaitable[T]]) -> T:
        """Run ``operation`` on the first endpoint that answers.

        Raises:
            ChainUnavailable: no endpoint answered.
            Exception: whatever ``operation`` raised for an answer (e.g. ``JsonRpcError``).
        """
        errors: list[str] = []
        for index in self._order():
            url, endpoint = self._endpoints[index]
            health = self._health[index]
            health.calls += 1
            try:
                result = await operation(endpoint)
            except self._transport_errors as exc:
                self._failed(health, exc)
                errors.append(f"{url}: {type(exc).__name__}")
                continue
            self._succeeded(health)
            self._current = index
            return result
        raise ChainUnavailable(f"no {self._network} RPC endpoint answered (" + "; ".join(errors) + ")")

    def _failed(self, health: EndpointHealth, exc: BaseException) -> None:
        health.failures += 1
        health.consecutive_failures += 1
        health.healthy = False
        health.last_error = f"{type(exc).__name__}: {exc}"[:200]
        # the exponent is bounded: an endpoint down for hours must not overflow the float arithmetic
        doublings = min(health.consecutive_failures - 1, _MAX_DOUBLINGS)
        backoff = min(self._base * 2**doublings, self._max)
        health.down_until = self._clock() + backoff

    def _succeeded(self, health: EndpointHealth) -> None:
        health.healthy = True
        health.consecutive_failures = 0
        health.down_until = 0.0
        health.last_ok = self._clock()
