"""POSTs a signed event to a subscription's URL (implements ``ports.Poster``) behind the host-side SSRF
guard of the secrets service (``services.secrets.api``), with the oracle's operator settings (https
only unless ``NSL_ORACLE_ALLOW_HTTP``; public addresses only unless ``NSL_ORACLE_ALLOW_HOSTS``), as the
automation webhooks do: connect to the checked addresses (no DNS rebinding), no redirects, nothing from
the environment, a total timeout, at most ``MAX_RESPONSE_BYTES`` of the answer read. Connections are kept
alive per origin between deliveries (``PinnedSessions``): a subscription's next event does not wait for
a new TCP and TLS handshake."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.secrets.api import InvalidSourceAddress, PinnedSessions, SourceUrlPolicy
from neo_service_layer.services.subscriptions.ports import Sent

log = get_logger("nsl.subscriptions")

MAX_RESPONSE_BYTES = 64 * 1024
#: one attempt's whole time: a slow endpoint holds only its own subscription's slot this long
TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0


class GuardedPoster:
    def __init__(self, policy: SourceUrlPolicy, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._sessions = PinnedSessions(
            policy,
            field="channel.webhook.url",
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
        )

    async def check(self, url: str) -> None:
        await self._sessions.check(url)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent:
        try:
            async with self._sessions.post(
                url, body, {"Content-Type": "application/json", **headers}
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)
                return Sent(
                    response.status, None if 200 <= response.status < 300 else f"HTTP {response.status}"
                )
        except InvalidSourceAddress as exc:
            return Sent(None, f"refused by the SSRF guard: {exc}")
        except TimeoutError:
            return Sent(None, f"no answer within {self._timeout:g} s")
        except aiohttp.ClientError as exc:
            log.info(
                "subscription endpoint unreachable", host=urlsplit(url).hostname, error=type(exc).__name__
            )
            return Sent(None, f"connection failed: {type(exc).__name__}")

    async def aclose(self) -> None:
        """Close the kept connections (the worker stops)."""
        await self._sessions.aclose()
