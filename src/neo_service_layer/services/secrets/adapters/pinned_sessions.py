"""POSTs to tenant-given URLs over kept-alive connections, behind the SSRF guard (``url_guard``).

Webhook senders (subscriptions, automation) used to open a new connection per request. A subscription
sends its events one at a time, in order, so its rate is one over a request's time, and a new
connection costs a TCP handshake and, over https, a TLS one before every event: three round trips
where one would do on a kept-alive connection. Here each origin has an aiohttp session whose
connections stay open between requests, for at most ``KEEP_ALIVE_SECONDS`` idle: less than the idle
timeout of common servers (5 s in uvicorn, Node.js and Apache), so a connection is seldom taken
from the pool just as the endpoint closes it (that attempt would fail and be retried).

The guard's rules stay as they were: every request checks its URL again (the host resolved, every
address allowed), and a session connects only to the addresses of that check (``PinnedResolver``). A
session is kept per origin *and* checked addresses: when the host's answer changes, the next request
uses a new session on the new addresses, and no connection ever goes to an address no check returned.
No redirects are followed, nothing comes from the environment (proxies, ``.netrc``), no cookies are
kept. At most ``MAX_ORIGINS`` sessions are kept; the least recently used is closed beyond that.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aiohttp

from neo_service_layer.services.secrets.adapters.pinned_addresses import AddressPins, PinnedResolver
from neo_service_layer.services.secrets.adapters.url_guard import Resolver, SourceUrlPolicy, resolve_host

#: origins whose sessions are kept at once (each holds its idle connections until keep-alive ends)
MAX_ORIGINS = 256
#: an idle connection is closed after this long (seconds)
KEEP_ALIVE_SECONDS = 4.0

_Key = tuple[str, str, int | None, tuple[str, ...]]


class PinnedSessions:
    """Kept-alive sessions per checked origin (one event loop: no locking); ``aclose`` when done."""

    def __init__(
        self,
        policy: SourceUrlPolicy,
        *,
        field: str,
        timeout: aiohttp.ClientTimeout,
        resolve: Resolver = resolve_host,
    ) -> None:
        """``field`` names the URL in the guard's refusals; ``timeout`` bounds each request."""
        self._policy = policy
        self._resolve = resolve
        self._field = field
        self._timeout = timeout
        self._sessions: OrderedDict[_Key, aiohttp.ClientSession] = OrderedDict()

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    async def check(self, url: str) -> AddressPins:
        """The guard's check of ``url`` (``InvalidSourceAddress``), resolved off the event loop."""
        pins = AddressPins(self._policy, self._resolve)
        await asyncio.to_thread(pins.check, url, self._field)
        return pins

    @asynccontextmanager
    async def post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST ``body`` to ``url`` once checked (``InvalidSourceAddress`` when refused); aiohttp's
        errors and ``TimeoutError`` pass through. A response not read to its end closes its connection
        instead of returning it to the pool (aiohttp)."""
        pins = await self.check(url)
        session = await self._session(url, pins)
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            yield response

    async def _session(self, url: str, pins: AddressPins) -> aiohttp.ClientSession:
        parts = urlsplit(url)
        host = parts.hostname or ""
        key = (parts.scheme.lower(), host, parts.port, pins.addresses(host, parts.port or 0))
        session = self._sessions.get(key)
        if session is not None and not session.closed:
            self._sessions.move_to_end(key)
            return session
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                resolver=PinnedResolver(pins), keepalive_timeout=KEEP_ALIVE_SECONDS
            ),
            trust_env=False,
            # aiohttp's jar that stores nothing: no cookie an endpoint sets is sent back on a later call
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=self._timeout,
            auto_decompress=False,
        )
        self._sessions[key] = session
        while len(self._sessions) > MAX_ORIGINS:
            _, oldest = self._sessions.popitem(last=False)
            await oldest.close()
        return session

    async def aclose(self) -> None:
        """Close every kept session and its connections (the process stops)."""
        sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            await session.close()
