"""Kept-alive connections for the enclave's fetches without credentials, kept per TLS identity.

A new connection per fetch cost a TCP connect, a full TLS handshake and a close: most of the enclave's
CPU when it answers a burst of native Oracle requests for many URLs of one host (``bench/RESULTS.md``).
``SharedPools`` is an httpx transport that keeps connections alive between fetches, and it keeps the
fetcher's guarantees:

- a connection is kept under its (scheme, SNI hostname or literal address, port): it is reused only for
  the hostname whose certificate it verified, never for another name that resolves to the same address;
- each kept connection is a one-connection httpcore pool, which reuses it only for the same address as
  the request URL: the address this fetch resolved and checked itself (``fetch.py`` connects to the
  checked address), so a reused connection never goes to an address the current fetch did not check;
- ``fetch.py`` routes only requests without headers or body of their own here (the native Oracle's and
  plain GETs): a connection that carried a tenant's secret is never kept for anyone else;
- a fetch takes a kept connection for itself and gives it back when its response is closed: as many
  fetches at once as before (no queue, a slow source holds up no one), at most ``MAX_IDLE`` connections
  kept, none longer than ``KEEPALIVE_EXPIRY`` seconds.

One pool of many connections (httpcore's ``AsyncConnectionPool``) was measured first and dropped: it
checks every connection against every other on each request and each response (quadratic), which cost
as much CPU as the handshakes it saved once a burst had 64 connections open.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable

import httpx

#: idle connections kept, all hostnames together, and for how long (seconds): below the usual servers'
#: idle timeouts (5 s and up), so a connection the server has closed is not taken
MAX_IDLE = 64
KEEPALIVE_EXPIRY = 2.0

PoolKey = tuple[str, str, int]
_Transport = httpx.AsyncHTTPTransport


class _Returned(httpx.AsyncByteStream):
    """A response body that gives its connection back when closed."""

    def __init__(
        self, stream: httpx.AsyncByteStream, pools: SharedPools, key: PoolKey, transport: _Transport
    ) -> None:
        self._stream = stream
        self._pools = pools
        self._key = key
        self._transport: _Transport | None = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            transport, self._transport = self._transport, None
            if transport is not None:
                await self._pools.give_back(self._key, transport)


def pool_key(request: httpx.Request) -> PoolKey:
    """The TLS identity a connection of ``request`` verifies: its SNI hostname, else the URL's host."""
    sni = request.extensions.get("sni_hostname")
    host = sni if isinstance(sni, str) else request.url.host
    port = request.url.port or (443 if request.url.scheme == "https" else 80)
    return request.url.scheme, host, port


class SharedPools(httpx.AsyncBaseTransport):
    """Lends each request a kept connection of its TLS identity, or a new one; closing a client that uses
    it closes nothing."""

    def __init__(self, ssl_context: ssl.SSLContext, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ssl = ssl_context
        self._clock = clock
        self._idle: dict[PoolKey, list[tuple[float, _Transport]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _take(self, key: PoolKey) -> _Transport:
        kept = self._idle.get(key)
        if kept:
            _, transport = kept.pop()  # the most recently used
            if not kept:
                del self._idle[key]
            return transport
        limits = httpx.Limits(
            max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY
        )
        return _Transport(verify=self._ssl, trust_env=False, retries=0, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a connection works only on the loop that opened it (tests run many)
            self._idle, self._loop = {}, loop
        await self._expire()
        key = pool_key(request)
        transport = self._take(key)
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            await transport.aclose()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Returned(response.stream, self, key, transport),
            extensions=response.extensions,
        )

    async def give_back(self, key: PoolKey, transport: _Transport) -> None:
        """Keep ``transport``'s connection for the next fetch of ``key``, or close it when enough are kept."""
        if self.kept >= MAX_IDLE:
            await transport.aclose()
            return
        self._idle.setdefault(key, []).append((self._clock(), transport))

    async def _expire(self) -> None:
        """Close the kept connections idle for longer than ``KEEPALIVE_EXPIRY``.

        They are all taken out before the first close is awaited: a close lets the other fetches run,
        and they take, give back and expire connections of their own meanwhile (walking the keys across
        those awaits met a key another fetch had emptied, a ``KeyError``, in the chaos test)."""
        oldest = self._clock() - KEEPALIVE_EXPIRY
        stale: list[_Transport] = []
        for key, kept in list(self._idle.items()):
            stale += [t for at, t in kept if at < oldest]
            fresh = [(at, t) for at, t in kept if at >= oldest]
            if fresh:
                self._idle[key] = fresh
            else:
                del self._idle[key]
        for transport in stale:
            await transport.aclose()

    async def aclose(self) -> None:
        """Nothing: the kept connections outlive each fetch's client (``close`` ends them)."""

    async def close(self) -> None:
        """Close every kept connection."""
        kept, self._idle = self._idle, {}
        for transports in kept.values():
            for _, transport in transports:
                await transport.aclose()

    @property
    def kept(self) -> int:
        """How many idle connections are kept now."""
        return sum(len(kept) for kept in self._idle.values())
