"""An in-memory Key Vault behind an azure-core ``AsyncHttpTransport``, and a credential with a fixed token.

The transport answers the Key Vault REST shapes the secrets client uses:
- any request without a bearer token: ``401`` with the ``WWW-Authenticate: Bearer authorization=...,
  resource=...`` challenge the real service sends first;
- ``GET /secrets/{name}[/{version}]``: a SecretBundle (``value``, ``id``, ``attributes``), or a
  ``SecretNotFound`` 404, or a ``Forbidden`` 403 for names the test forbids;
- ``GET /secrets``: pages of SecretItems linked by ``nextLink`` (``$skiptoken``).
Every request is recorded (method, URL, headers) so tests can check the auth flow.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import AsyncHttpResponse, HttpRequest

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", resource="https://vault.azure.net"'


@dataclass
class StoredVersion:
    version: str
    value: str
    created: int
    enabled: bool = True


@dataclass(frozen=True)
class SeenRequest:
    method: str
    url: str
    headers: dict[str, str]


@dataclass
class FakeKeyVault:
    """The vault's contents and what it was asked. Tests edit it directly."""

    vault_url: str
    token: str
    secrets: dict[str, list[StoredVersion]] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    #: when set, every authorized request is answered with this status
    fail_with: int | None = None
    page_size: int = 2
    requests: list[SeenRequest] = field(default_factory=list)

    def set_secret(self, name: str, value: str, *, enabled: bool = True) -> str:
        """Add a version (like ``az keyvault secret set``); returns its version id."""
        versions = self.secrets.setdefault(name, [])
        version = uuid.uuid4().hex
        versions.append(StoredVersion(version, value, 1_700_000_000 + 60 * len(versions), enabled))
        return version

    def answer(self, request: HttpRequest) -> tuple[int, dict[str, str], Any]:
        self.requests.append(SeenRequest(request.method, request.url, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            body = {
                "error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer token."}
            }
            return 401, {"WWW-Authenticate": CHALLENGE}, body
        if self.fail_with is not None:
            return self.fail_with, {}, {"error": {"code": "ServiceUnavailable", "message": "try again later"}}
        parts = urlsplit(request.url)
        segments = [s for s in parts.path.split("/") if s]
        query = parse_qs(parts.query)
        if request.method != "GET" or not segments or segments[0] != "secrets" or "api-version" not in query:
            return 400, {}, {"error": {"code": "BadParameter", "message": "unsupported request"}}
        if len(segments) == 1:
            return 200, {}, self._page(int(query.get("$skiptoken", ["0"])[0]))
        return self._get(segments[1], segments[2] if len(segments) > 2 else None)

    def _attributes(self, stored: StoredVersion) -> dict[str, Any]:
        return {
            "enabled": stored.enabled,
            "created": stored.created,
            "updated": stored.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        }

    def _get(self, name: str, version: str | None) -> tuple[int, dict[str, str], Any]:
        if name in self.forbidden:
            message = "The user, group or application does not have secrets get permission on key vault."
            return (
                403,
                {},
                {"error": {"code": "Forbidden", "message": message, "innererror": {"code": "AccessDenied"}}},
            )
        versions = self.secrets.get(name, [])
        matching = [v for v in versions if version in (None, v.version)]
        if not matching:
            message = f"A secret with (name/id) {name} was not found in this key vault."
            return 404, {}, {"error": {"code": "SecretNotFound", "message": message}}
        stored = matching[-1]
        bundle = {
            "value": stored.value,
            "id": f"{self.vault_url}/secrets/{name}/{stored.version}",
            "attributes": self._attributes(stored),
            "tags": {},
        }
        return 200, {}, bundle

    def _page(self, start: int) -> dict[str, Any]:
        names = sorted(self.secrets)
        items = [
            {"id": f"{self.vault_url}/secrets/{name}", "attributes": self._attributes(self.secrets[name][-1])}
            for name in names[start : start + self.page_size]
        ]
        more = start + self.page_size < len(names)
        next_link = (
            f"{self.vault_url}/secrets?api-version=7.5&$skiptoken={start + self.page_size}" if more else None
        )
        return {"value": items, "nextLink": next_link}


class FakeResponse(AsyncHttpResponse):
    """A complete, already-read response."""

    def __init__(self, request: HttpRequest, status: int, headers: dict[str, str], body: bytes) -> None:
        self._request = request
        self._status = status
        self._headers: MutableMapping[str, str] = {
            "Content-Type": "application/json; charset=utf-8",
            **headers,
        }
        self._body = body
        self._encoding: str | None = "utf-8"
        self._closed = False

    @property
    def request(self) -> HttpRequest:
        return self._request

    @property
    def status_code(self) -> int:
        return self._status

    @property
    def headers(self) -> MutableMapping[str, str]:
        return self._headers

    @property
    def reason(self) -> str:
        return {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(
            self._status, "Error"
        )

    @property
    def content_type(self) -> str | None:
        return self._headers.get("Content-Type")

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_stream_consumed(self) -> bool:
        return True

    @property
    def encoding(self) -> str | None:
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value

    @property
    def url(self) -> str:
        return self._request.url

    @property
    def content(self) -> bytes:
        return self._body

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode(encoding or self._encoding or "utf-8")

    def json(self) -> Any:
        return json.loads(self._body)

    def raise_for_status(self) -> None:
        if self._status >= 400:
            raise HttpResponseError(response=self)

    async def read(self) -> bytes:
        return self._body

    async def iter_raw(self, **kwargs: Any) -> AsyncIterator[bytes]:
        yield self._body

    async def iter_bytes(self, **kwargs: Any) -> AsyncIterator[bytes]:
        yield self._body

    async def close(self) -> None:
        self._closed = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class FakeKeyVaultTransport(AsyncHttpTransport[HttpRequest, AsyncHttpResponse]):
    """Hands each request to a ``FakeKeyVault`` instead of the network."""

    def __init__(self, vault: FakeKeyVault) -> None:
        self.vault = vault
        self.opened = 0
        self.closed = 0

    async def send(self, request: HttpRequest, **kwargs: Any) -> AsyncHttpResponse:
        status, headers, body = self.vault.answer(request)
        return FakeResponse(request, status, headers, json.dumps(body).encode())

    async def open(self) -> None:
        self.opened += 1

    async def close(self) -> None:
        self.closed += 1

    async def __aenter__(self) -> FakeKeyVaultTransport:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


@dataclass
class FixedTokenCredential:
    """An ``AsyncTokenCredential`` that returns one token and records what it was asked for."""

    token: str
    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)
    closed: bool = False

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.calls.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FixedTokenCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


def unique_vault_url() -> str:
    """A vault address never used before in this process (the SDK caches challenges per host)."""
    return f"https://nsl-{uuid.uuid4().hex[:12]}.vault.azure.net"


def bearer_headers(requests: list[SeenRequest]) -> Iterator[str | None]:
    return (r.headers.get("Authorization") for r in requests)
