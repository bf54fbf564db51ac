"""Host access for a tenant's Python compute function: ``import nsl``.

Bundled into every Python function by the builder; a thin, friendly layer over the WIT imports of
``nsl:compute/host`` so that user code never sees the generated bindings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from componentize_py_types import Err  # type: ignore[import-not-found]
from wit_world.imports import host  # type: ignore[import-not-found]

__all__ = ["HostError", "Response", "fetch", "now_ms", "random_bytes", "secret"]

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class HostError(Exception):
    """A host call was refused or failed; the message says why (a rule, a limit, an unknown secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Response:
    """An HTTP response: status, headers (lower-case names; repeated ones joined with ", ") and body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, {len(self.body)} bytes)"


def _header_pairs(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name), str(value)) for name, value in items]


def _merge_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


def fetch(
    url: str, method: str = "GET", headers: Headers | None = None, body: bytes | str | None = None
) -> Response:
    """Make an HTTPS request through the enclave's guarded fetcher; raises HostError when refused."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    payload = None if data is None else bytes(data)
    request = host.HttpRequest(method=method.upper(), url=url, headers=_header_pairs(headers), body=payload)
    try:
        response = host.fetch(request)
    except Err as error:
        raise HostError(str(error.value)) from None
    return Response(int(response.status), _merge_headers(list(response.headers)), bytes(response.body))


def secret(name: str) -> str:
    """The value of one of the tenant's secrets granted to this function; raises HostError otherwise."""
    try:
        return str(host.secret(name))
    except Err as error:
        raise HostError(str(error.value)) from None


def now_ms() -> int:
    """Milliseconds since the Unix epoch, by the enclave's clock."""
    return int(host.now_ms())


def random_bytes(n: int) -> bytes:
    """n bytes (0 to 4096) from the enclave's random source."""
    if not 0 <= n <= 4096:
        raise HostError("random_bytes takes 0 to 4096 bytes per call")
    return bytes(host.random_bytes(n))
