"""Calls a tenant's webhook (implements ``ports.WebhookSender``) behind the host-side SSRF guard.

The URL is checked by the secrets service's guard (``services.secrets.api``) with the oracle's operator
settings: https only unless ``NSL_ORACLE_ALLOW_HTTP``; every address the host resolves to must be
public unless ``NSL_ORACLE_ALLOW_HOSTS`` lets it through. The connection goes to the addresses the
check resolved (no DNS rebinding), redirects are not followed, nothing comes from the environment
(proxies, ``.netrc``, cookies), each attempt has a total timeout and at most ``MAX_RESPONSE_BYTES`` of
the answer are read (and then dropped: only the status counts). Connections are kept alive per origin
between calls (``PinnedSessions``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.automation.rules.jobs import Delivery, classify
from neo_service_layer.services.secrets.api import InvalidSourceAddress, PinnedSessions, SourceUrlPolicy

log = get_logger("nsl.automation")

MAX_RESPONSE_BYTES = 64 * 1024
TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0


class GuardedWebhooks:
    def __init__(self, policy: SourceUrlPolicy, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._sessions = PinnedSessions(
            policy,
            field="action.webhook.url",
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
        )

    async def check(self, url: str) -> None:
        await self._sessions.check(url)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Delivery:
        try:
            async with self._sessions.post(
                url, body, {"Content-Type": "application/json", **headers}
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)
                return classify(response.status)
        except InvalidSourceAddress as exc:
            return Delivery(None, f"refused by the SSRF guard: {exc}")
        except TimeoutError:
            return Delivery(None, f"no answer within {self._timeout:g} s", retryable=True)
        except aiohttp.ClientError as exc:
            # the host only (never the path or query, which may carry the tenant's tokens)
            log.info("webhook unreachable", host=urlsplit(url).hostname, error=type(exc).__name__)
            return Delivery(None, f"connection failed: {type(exc).__name__}", retryable=True)

    async def aclose(self) -> None:
        """Close the kept connections (the worker stops)."""
        await self._sessions.aclose()
