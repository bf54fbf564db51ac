"""The oracle's outbound HTTP fetch, inside the enclave process, behind the SSRF guard.

For each hop (the first URL and each redirect) the URL is checked, its host resolved once, every
resolved address checked, and the connection made to a checked address itself: the request goes to
``https://<address>:<port>/...`` with ``Host: <hostname>`` and TLS SNI / certificate verification for
the hostname (httpx's ``sni_hostname`` extension). There is no second DNS lookup, so an answer that
changes between check and connect (DNS rebinding) cannot redirect the connection. Proxies from the
environment are ignored (``trust_env=False``). A fetch with no header or body of its own (the native
Oracle's, a plain GET) uses kept-alive connections, pooled per TLS identity (``fetch_pool``); any other
fetch gets connections of its own, closed at its end.

Limits: one deadline for the whole fetch (resolution, connect, redirects, body); the body is streamed
and reading stops as soon as it passes the response limit; compressed bodies are refused (no
decompression bombs: the request says ``Accept-Encoding: identity``); redirects are limited and, when
they leave the origin, headers that carry secrets are dropped (a body with secrets is never forwarded).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin

import certifi
import httpx

from neo_service_layer.enclave.fetch_guard import (
    GuardPolicy,
    GuardRefused,
    IPAddress,
    Target,
    check_address,
    check_url,
)
from neo_service_layer.enclave.fetch_pool import SharedPools
from neo_service_layer.enclave.wire.oracle import (
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_RESPONSE_BYTES,
    ResultCode,
)

USER_AGENT = "neo-service-layer-oracle/1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DROP_ACROSS_ORIGINS = frozenset({"authorization", "cookie"})

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Addresses of ``host`` from the operating system's resolver, in its order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


def _connect_failure(exc: BaseException, host: str) -> str:
    """Why a connection failed, naming a certificate that did not verify (and why) so an operator
    can fix a CA setting instead of hunting a network fault."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"the certificate of {host} did not verify: {seen.verify_message or seen.reason}"
        seen = seen.__cause__ or seen.__context__
    return f"could not connect to {host}"


def default_ssl_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """TLS with certificate and hostname verification against ``ca_file`` (the enclave's
    ``NSL_ORACLE_CA_FILE``) or certifi's CAs."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else certifi.where())


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One outbound request, with secrets already injected (``secret_headers`` names those headers)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    secret_headers: frozenset[str] = frozenset()
    body_has_secrets: bool = False
    max_response_bytes: int = MAX_RESPONSE_BYTES
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_redirects: int = DEFAULT_MAX_REDIRECTS


@dataclass(frozen=True, slots=True)
class Fetched:
    """What came back: ``SUCCESS`` with a 2xx body, or a failure code and a message without secrets."""

    code: ResultCode
    body: bytes = field(default=b"", repr=False)
    status: int | None = None
    content_type: str | None = None
    message: str = ""
    bytes_read: int = 0
    connected_to: tuple[str, ...] = ()  # the checked addresses connected to, one per hop


@dataclass(slots=True)
class _Hop:
    target: Target
    method: str
    headers: list[tuple[str, str]]
    body: bytes | None


class Fetcher:
    """Fetches with the guard of ``policy``; ``resolver``/``transport`` are replaceable for tests."""

    def __init__(
        self,
        policy: GuardPolicy,
        *,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        self._ssl = ssl_context if ssl_context is not None else default_ssl_context()
        self._transport = transport
        self._shared = SharedPools(self._ssl)  # kept-alive connections for fetches without credentials

    async def close(self) -> None:
        """Close the kept-alive connections (a stopping process or a test)."""
        await self._shared.close()

    @property
    def kept_connections(self) -> int:
        """Idle connections kept for the next fetches without headers or body of their own."""
        return self._shared.kept

    async def fetch(self, request: FetchRequest) -> Fetched:
        connected: list[str] = []
        try:
            async with asyncio.timeout(request.timeout):
                result = await self._fetch(request, connected)
        except TimeoutError:
            result = Fetched(ResultCode.TIMEOUT, message=f"no complete answer within {request.timeout:g}s")
        return Fetched(
            result.code,
            result.body,
            result.status,
            result.content_type,
            result.message,
            result.bytes_read,
            tuple(connected),
        )

    async def _fetch(self, request: FetchRequest, connected: list[str]) -> Fetched:
        try:
            target = check_url(request.url, self.policy)
        except GuardRefused as exc:
            return Fetched(ResultCode.FORBIDDEN, message=str(exc))
        hop = _Hop(target, request.method, list(request.headers), request.body)
        transport = self._transport
        if transport is None:  # no header or body of its own: nothing secret on a kept-alive connection
            shareable = not request.headers and request.body is None
            transport = (
                self._shared
                if shareable
                else httpx.AsyncHTTPTransport(verify=self._ssl, trust_env=False, retries=0)
            )
        timeout = httpx.Timeout(request.timeout)
        async with httpx.AsyncClient(transport=transport, trust_env=False, timeout=timeout) as client:
            for redirects in range(request.max_redirects + 1):
                addresses = await self._checked_addresses(hop.target)
                if isinstance(addresses, Fetched):
                    return addresses
                outcome = await self._send(client, hop, addresses, request, connected)
                if isinstance(outcome, Fetched):
                    return outcome
                if redirects == request.max_redirects:
                    break
                status, location = outcome
                refused = self._follow(hop, status, location, request)
                if refused is not None:
                    return refused
        return Fetched(ResultCode.UPSTREAM_ERROR, message=f"more than {request.max_redirects} redirects")

    async def _checked_addresses(self, target: Target) -> list[IPAddress] | Fetched:
        if target.literal is not None:
            addresses: Sequence[IPAddress] = [target.literal]
        else:
            try:
                addresses = await self._resolver(target.host, target.port)
            except (OSError, UnicodeError):
                return Fetched(ResultCode.UPSTREAM_ERROR, message=f"host {target.host} does not resolve")
        if not addresses:
            return Fetched(ResultCode.UPSTREAM_ERROR, message=f"host {target.host} does not resolve")
        try:
            for address in addresses:  # every answer must pass: a mix of public and private is refused
                check_address(address, self.policy)
        except GuardRefused as exc:
            return Fetched(ResultCode.FORBIDDEN, message=f"{target.host}: {exc}")
        return list(addresses)

    async def _send(
        self,
        client: httpx.AsyncClient,
        hop: _Hop,
        addresses: list[IPAddress],
        request: FetchRequest,
        connected: list[str],
    ) -> Fetched | tuple[int, str]:
        """Send one hop to the first checked address that accepts; a redirect gives (status, location)."""
        target = hop.target
        headers = [("Host", target.host_header), ("User-Agent", USER_AGENT), ("Accept-Encoding", "identity")]
        headers += hop.headers
        extensions = {"sni_hostname": target.host} if target.scheme == "https" and not target.literal else {}
        raw_path = quote(target.target, safe="!#$%&'()*+,/:;=?@[]~").encode("ascii")
        failure = f"could not connect to {target.host}"
        for index, address in enumerate(addresses):
            url = httpx.URL(scheme=target.scheme, host=str(address), port=target.port, raw_path=raw_path)
            outgoing = client.build_request(hop.method, url, headers=headers, content=hop.body)
            outgoing.extensions.update(extensions)
            try:
                response = await client.send(outgoing, stream=True)
            except httpx.ConnectError as exc:
                failure = _connect_failure(exc, target.host)
                if index + 1 < len(addresses):
                    continue
                return Fetched(ResultCode.UPSTREAM_ERROR, message=failure)
            except httpx.TimeoutException:
                return Fetched(ResultCode.TIMEOUT, message="the upstream server did not answer in time")
            except httpx.HTTPError as exc:
                return Fetched(ResultCode.UPSTREAM_ERROR, message=f"request failed ({type(exc).__name__})")
            connected.append(str(address))
            try:
                return await _read(response, request.max_response_bytes)
            except httpx.TimeoutException:
                return Fetched(ResultCode.TIMEOUT, message="the upstream server did not answer in time")
            except httpx.HTTPError as exc:
                return Fetched(ResultCode.UPSTREAM_ERROR, message=f"response failed ({type(exc).__name__})")
            finally:
                await response.aclose()
        return Fetched(ResultCode.UPSTREAM_ERROR, message=failure)

    def _follow(self, hop: _Hop, status: int, location: str, request: FetchRequest) -> Fetched | None:
        """Turn ``hop`` into the redirect's next hop, or return why it may not be followed."""
        base = f"{hop.target.scheme}://{hop.target.host_header}{hop.target.target}"
        try:
            target = check_url(urljoin(base, location), self.policy)
        except GuardRefused as exc:
            return Fetched(ResultCode.FORBIDDEN, message=f"redirect refused: {exc}")
        if status == 303 or (status in (301, 302) and hop.method == "POST"):
            hop.method, hop.body = "GET", None
            hop.headers = [(k, v) for k, v in hop.headers if k.lower() != "content-type"]
        if target.origin != hop.target.origin:
            drop = request.secret_headers | _DROP_ACROSS_ORIGINS
            hop.headers = [(k, v) for k, v in hop.headers if k.lower() not in drop]
            if hop.body is not None and request.body_has_secrets:
                message = "redirect to another origin would forward secrets"
                return Fetched(ResultCode.FORBIDDEN, message=message)
        hop.target = target
        return None


async def _read(response: httpx.Response, limit: int) -> Fetched | tuple[int, str]:
    status = response.status_code
    content_type = response.headers.get("content-type")
    if status in _REDIRECTS:
        location = response.headers.get("location")
        if not location:
            return Fetched(ResultCode.UPSTREAM_ERROR, status=status, message="redirect without Location")
        return status, location
    if status in (404, 410):
        return Fetched(ResultCode.NOT_FOUND, status=status, message=f"upstream answered {status}")
    if not 200 <= status < 300:
        return Fetched(ResultCode.UPSTREAM_ERROR, status=status, message=f"upstream answered {status}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return Fetched(ResultCode.UPSTREAM_ERROR, status=status, message="compressed responses are refused")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        message = f"response of {declared} bytes exceeds {limit}"
        return Fetched(ResultCode.TOO_LARGE, status=status, content_type=content_type, message=message)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():  # identity only: refused encodings never get here
        total += len(chunk)
        if total > limit:
            message = f"response exceeds {limit} bytes"
            return Fetched(ResultCode.TOO_LARGE, status=status, message=message, bytes_read=total)
        chunks.append(chunk)
    return Fetched(ResultCode.SUCCESS, b"".join(chunks), status, content_type, bytes_read=total)
