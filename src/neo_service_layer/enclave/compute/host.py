"""What a running function may ask the enclave for (``nsl:compute/host``): fetches through the guarded
fetcher, its tenant's granted secrets, the enclave's clock and random bytes. Nothing else.

A run's ``RunHost`` lives on the sandbox thread; fetches are handed to the enclave's event loop and
waited for with the run's remaining time. Secret values never appear in errors, details or logs: a
fetch carrying a secret goes only to one of the hosts the secret was sealed with (as the oracle's), and
a result containing one is refused by the caller (``ComputeCode.FORBIDDEN``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from neo_service_layer.enclave.compute.limits import RunLimits
from neo_service_layer.enclave.fetch import Fetcher, FetchRequest
from neo_service_layer.enclave.wire.oracle import ResultCode
from neo_service_layer.enclave.wire.secret_labels import InvalidSecretInput, check_allowed_host

MAX_RANDOM_PER_CALL = 4096
MAX_REQUEST_BYTES = 1024 * 1024
MAX_HEADERS = 32
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})


class HostError(Exception):
    """A host call refused or failed; the message is what the function sees (no secret values)."""


@dataclass(frozen=True, slots=True)
class SecretValue:
    """One unsealed secret: its value and the hosts it may be sent to."""

    value: str = field(repr=False)
    pinned_hosts: frozenset[str]


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(slots=True)
class RunRecord:
    """What the run did, for its outcome and metrics."""

    fetches: int = 0
    refused_fetches: list[str] = field(default_factory=list)
    secret_refusals: list[str] = field(default_factory=list)
    #: a fetch ran into the end of the run's wall time
    out_of_time: bool = False


class RunHost:
    """The host side of one run."""

    def __init__(
        self,
        *,
        limits: RunLimits,
        secret_values: dict[str, SecretValue],
        fetcher: Fetcher,
        loop: asyncio.AbstractEventLoop,
        deadline: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits = limits
        self._secrets = secret_values
        self._fetcher = fetcher
        self._loop = loop
        self._deadline = deadline  # time.monotonic() value the run must end by
        self._clock = clock
        self.record = RunRecord()

    @property
    def secret_values(self) -> list[str]:
        return [s.value for s in self._secrets.values() if s.value]

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def random_bytes(self, n: int) -> bytes:
        if not 0 <= n <= MAX_RANDOM_PER_CALL:
            raise HostError(f"random-bytes: at most {MAX_RANDOM_PER_CALL} bytes per call, asked {n}")
        return secrets.token_bytes(n)

    def secret(self, name: str) -> str:
        found = self._secrets.get(name)
        if found is None:
            shown = name[:64]
            self.record.secret_refusals.append(shown)
            raise HostError(f"secret {shown!r} is not granted to this function, or not the tenant's")
        return found.value

    def fetch(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> HttpResponse:
        if self.record.fetches >= self._limits.fetches:
            self._refuse(f"fetch limit reached: at most {self._limits.fetches} fetches per run")
        self.record.fetches += 1
        method = method.upper()
        if method not in _METHODS:
            self._refuse(f"method {method[:16]!r} is not allowed")
        if len(headers) > MAX_HEADERS or (body is not None and len(body) > MAX_REQUEST_BYTES):
            self._refuse(
                f"request too large: at most {MAX_HEADERS} headers and {MAX_REQUEST_BYTES} body bytes"
            )
        secret_headers = self._check_secret_destinations(url, headers, body)
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self._refuse("no time left in this run for a fetch")
        timeout = min(self._limits.fetch_timeout_ms / 1000, remaining)
        bounded_by_run = remaining < self._limits.fetch_timeout_ms / 1000
        request = FetchRequest(
            method=method,
            url=url,
            headers=tuple(headers),
            body=body,
            secret_headers=secret_headers,
            body_has_secrets=body is not None and self._contains_secret(body.decode(errors="replace")),
            max_response_bytes=self._limits.fetch_response_bytes,
            timeout=timeout,
        )
        future = asyncio.run_coroutine_threadsafe(self._fetcher.fetch(request), self._loop)
        try:
            fetched = future.result(timeout + 1)
        except TimeoutError:
            future.cancel()
            fetched = None
        if fetched is None or fetched.code is ResultCode.TIMEOUT:
            self.record.out_of_time = self.record.out_of_time or bounded_by_run
            raise HostError(f"fetch timed out after {timeout:.3g}s")
        if fetched.status is not None and fetched.code in (
            ResultCode.SUCCESS,
            ResultCode.NOT_FOUND,
            ResultCode.UPSTREAM_ERROR,
        ):
            content_type = [("content-type", fetched.content_type)] if fetched.content_type else []
            return HttpResponse(fetched.status, content_type, fetched.body)
        if fetched.code is ResultCode.FORBIDDEN:
            self._refuse(f"fetch refused: {fetched.message}")
        raise HostError(f"fetch failed ({fetched.code.name.lower()}): {fetched.message}")

    def _refuse(self, message: str) -> None:
        self.record.refused_fetches.append(message)
        raise HostError(message)

    def _contains_secret(self, text: str) -> bool:
        return any(value in text for value in self.secret_values)

    def _check_secret_destinations(
        self, url: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> frozenset[str]:
        """Names of headers carrying a secret; refuse a secret sent to a host it was not sealed for."""
        try:
            hostname = urlsplit(url).hostname
            host = check_allowed_host(hostname) if hostname else None
        except (ValueError, InvalidSecretInput):
            host = None
        carried: set[str] = set()
        secret_headers: set[str] = set()
        texts = [(None, url), *((name, value) for name, value in headers)]
        if body is not None:
            texts.append((None, body.decode(errors="replace")))
        for name, secret in self._secrets.items():
            for header, text in texts:
                if secret.value and secret.value in text:
                    carried.add(name)
                    if header is not None:
                        secret_headers.add(header.lower())
        for name in sorted(carried):
            if host is None or host not in self._secrets[name].pinned_hosts:
                self._refuse(
                    f"secret {name!r} may not be sent to this host: it is not among its pinned hosts"
                )
        return frozenset(secret_headers)
