"""Import sources connect only to addresses the SSRF guard checked: no DNS rebinding.

The guard (``url_guard``) resolves a source's host name to check it. If the SDK resolved the name
again to connect, a DNS answer that changed in between (public for the check, ``127.0.0.1`` or the
metadata address for the connection) would reach a refused address. :class:`AddressPins` keeps what
the check resolved, and the SDKs' connections go to those addresses only, while TLS (SNI and
certificate verification) and the ``Host`` header keep the name:

- requests (hvac) and botocore: urllib3 connection classes whose ``_new_conn`` opens the socket to a
  pinned address (``pinned_requests_adapter``, ``pin_botocore_client``);
- aiohttp (azure-core's transport): a resolver that answers the pinned addresses
  (``PinnedAioHttpTransport``), with no proxy or ``.netrc`` from the environment.

A host the check did not see (the default AWS endpoint ``secretsmanager.<region>.amazonaws.com``) is
resolved once when connecting and checked by the same rules, and the socket goes to exactly those
addresses. A refusal there is an ``OSError`` (:class:`AddressRefused`), which each SDK reports as a
connection failure (the source is "unavailable"), and is logged.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, cast

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from azure.core.pipeline.transport import AioHttpTransport
from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from neo_service_layer.kernel.observability.logs import get_logger
from neo_service_layer.services.secrets.adapters.url_guard import (
    InvalidSourceAddress,
    Resolver,
    SourceUrlPolicy,
    checked_addresses,
    resolve_host,
    source_addresses,
)

log = get_logger("nsl.secrets")


class AddressRefused(ConnectionRefusedError):
    """A host resolved, at connect time, to an address the guard refuses (the SDKs see an OSError)."""


class AddressPins:
    """The checked addresses of each host a source may connect to (host names lower case, no dot)."""

    def __init__(self, policy: SourceUrlPolicy, resolve: Resolver = resolve_host) -> None:
        self._policy = policy
        self._resolve = resolve
        self._pins: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def check(self, url: str, field: str) -> None:
        """Check ``url`` (``InvalidSourceAddress`` naming ``field``) and pin what its host resolved to."""
        host, addresses = source_addresses(url, field, self._policy, self._resolve)
        with self._lock:
            self._pins[_key(host)] = tuple(str(a) for a in addresses)

    def addresses(self, host: str, port: int) -> tuple[str, ...]:
        """Where a connection to ``host`` may go: its pinned addresses, else one checked resolution."""
        with self._lock:
            pinned = self._pins.get(_key(host))
        if pinned is not None:
            return pinned
        try:
            return tuple(str(a) for a in checked_addresses(host, port, self._policy, self._resolve))
        except InvalidSourceAddress as exc:
            log.warning("secret source connection refused by the SSRF guard", host=host, reason=str(exc))
            raise AddressRefused(str(exc)) from None


def _key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


# urllib3 (requests for hvac, botocore) ---------------------------------------------------------------


class _PinnedConnection:
    """Mixin for a urllib3 connection class: the socket goes to a pinned address of ``host``; the
    rest of the class (TLS with ``server_hostname`` = the name, certificate checks) is unchanged."""

    pins: AddressPins

    def _new_conn(self) -> socket.socket:
        conn = cast(HTTPConnection, self)
        try:
            addresses = self.pins.addresses(conn.host, conn.port)
        except AddressRefused as exc:
            raise NewConnectionError(conn, f"refused by the SSRF guard: {exc}") from exc
        failure: OSError | None = None
        for address in addresses:
            try:
                return create_connection(
                    (address, conn.port),
                    conn.timeout,
                    source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from exc
            except OSError as exc:
                failure = exc
        raise NewConnectionError(conn, f"failed to establish a new connection: {failure}")


def _pinned_pool[P: HTTPConnectionPool](pool: type[P], pins: AddressPins) -> type[P]:
    base = pool.ConnectionCls
    connection = type(f"Pinned{base.__name__}", (_PinnedConnection, base), {"pins": pins})
    return cast(type[P], type(f"Pinned{pool.__name__}", (pool,), {"ConnectionCls": connection}))


class _PinnedHTTPAdapter(HTTPAdapter):  # type: ignore[misc,unused-ignore]  # requests: untyped
    def __init__(self, pins: AddressPins) -> None:
        self._pins = pins
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _pinned_pool(HTTPConnectionPool, self._pins),
            "https": _pinned_pool(HTTPSConnectionPool, self._pins),
        }


def pinned_requests_adapter(pins: AddressPins) -> HTTPAdapter:
    """A requests adapter (mount it on ``http://`` and ``https://``) connecting to pinned addresses."""
    return _PinnedHTTPAdapter(pins)


def pin_botocore_client(client: Any, pins: AddressPins) -> None:
    """Make a botocore client's connections go to pinned addresses (before its first request)."""
    classes = {
        "http": _pinned_pool(AWSHTTPConnectionPool, pins),
        "https": _pinned_pool(AWSHTTPSConnectionPool, pins),
    }
    session = client._endpoint.http_session  # botocore.httpsession.URLLib3Session
    session._pool_classes_by_scheme = classes  # used for proxy managers (none are configured)
    session._manager.pool_classes_by_scheme = classes


# aiohttp (azure-core) --------------------------------------------------------------------------------


class PinnedResolver(AbstractResolver):
    """An aiohttp resolver answering the pinned (or freshly checked) addresses of a host."""

    def __init__(self, pins: AddressPins) -> None:
        self._pins = pins

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await asyncio.to_thread(self._pins.addresses, host, port)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


class PinnedAioHttpTransport(AioHttpTransport):  # type: ignore[misc,unused-ignore]  # lazy export
    """azure-core's aiohttp transport with a pinned resolver and nothing from the environment
    (``trust_env`` off: no proxy variables, no ``.netrc``)."""

    def __init__(self, pins: AddressPins, **kwargs: Any) -> None:
        super().__init__(use_env_settings=False, **kwargs)
        self._pins = pins

    async def open(self) -> None:
        if getattr(self, "session", None) is None:  # made here: aiohttp wants a running loop
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=PinnedResolver(self._pins)),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # aiohttp's jar that keeps no cookies between calls
                auto_decompress=False,
            )
        await super().open()
