"""The rate-limiter port: count one hit against a limit such as ``"100/minute"`` for an identity."""

from __future__ import annotations

from typing import Protocol

from neo_service_layer.kernel.identity.rules.rate_limits import RateDecision


class RateLimiter(Protocol):
    async def hit(self, limit: str, *identity: str) -> RateDecision:
        """Count one request for ``identity`` (e.g. ``("general", "ip", "203.0.113.9")``) under ``limit``.

        Storage failures are the adapter's to handle (it allows the request and logs the failure).
        """
        ...

    async def aclose(self) -> None: ...
