"""Oracle rules shared by the enclave, the API and the on-chain contract (``oracle_service.py`` in the
oracle service's ``contracts/``).

Only the standard library is imported here.

Signed message, V2 (mirrored exactly by the contract; see ``docs/oracle.md``)::

    "NSL-ORACLE-V2"                      13 bytes, ASCII
    u32le(magic)                          4 bytes: the Neo network magic (``Runtime.GetNetwork()``)
    contract                             20 bytes: the oracle contract's script hash as NeoVM stores it
    u64le(requestId)                      8 bytes
    consumer                             20 bytes: the requesting contract's script hash (NeoVM order)
    u32le(code)                           4 bytes (a ``ResultCode`` value)
    u64le(timestamp)                      8 bytes, milliseconds since the Unix epoch (fetch completed)
    u32le(len(url))    || url             UTF-8 bytes of the URL as requested on chain
    u32le(len(filter)) || filter          UTF-8 bytes of the JSONPath filter ("" for none)
    u32le(len(result)) || result          the result bytes ("" unless code is SUCCESS)

``uNle`` is an unsigned little-endian integer of N bits. The enclave's oracle key (secp256r1) signs it as
ECDSA over SHA-256 of these bytes, 64-byte ``r || s`` (``CryptoLib.verifyWithECDsa`` with
``secp256r1SHA256``). The enclave builds it itself inside ``oracle_fetch`` from the facts the host passes
(``OracleFacts``); the raw ``sign`` operations refuse any message that starts with ``MESSAGE_PREFIX``
for a key with purpose ``oracle``.

Off-chain answers (``POST /api/v1/oracle/fetch``, feeds, the native Oracle node's fetches) use
``OFFCHAIN_MAGIC`` (0) and ``OFFCHAIN_CONTRACT`` (20 zero bytes), like off-chain randomness: no contract
accepts them.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from neo_service_layer.enclave.wire.errors import InvalidInput
from neo_service_layer.enclave.wire.randomness import (  # the off-chain facts are those of randomness
    HASH160_BYTES,
    OFFCHAIN_CONTRACT,
    OFFCHAIN_MAGIC,
    encode_request_id,
)

MESSAGE_TAG: Final = b"NSL-ORACLE-V2"
#: every oracle message tag (V1 and V2) starts so; raw signing refuses such messages for oracle keys
MESSAGE_PREFIX: Final = b"NSL-ORACLE-"
OFFCHAIN_CONSUMER_TAG: Final = b"NSL-ORACLE-OFFCHAIN-CONSUMER-V2"

#: limits of an on-chain request (bytes)
MAX_URL_BYTES: Final = 512
MAX_FILTER_BYTES: Final = 256
MAX_USER_DATA: Final = 512
#: the largest result the contract accepts, and the enclave's default and ceiling after filtering
MAX_RESULT_BYTES: Final = 64 * 1024
#: the enclave's default and ceiling for the response body before filtering
MAX_RESPONSE_BYTES: Final = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
MAX_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_MAX_REDIRECTS: Final = 3
MAX_REDIRECTS: Final = 5
SIGNATURE_BYTES: Final = 64

#: a URL of this form names a request template registered off chain by the tenant
TEMPLATE_URL_PREFIX: Final = "nsl://template/"

MAX_FILTER_CHARS: Final = 1024
MAX_HEADERS: Final = 32
MAX_HEADER_BYTES: Final = 8 * 1024
MAX_BODY_BYTES: Final = 64 * 1024
METHODS: Final = frozenset({"GET", "POST"})
#: headers the fetcher sets itself; a request spec may not set them
RESERVED_HEADERS: Final = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
        "accept-encoding",
    }
)

_U32_MAX: Final = 2**32 - 1
_U64_MAX: Final = 2**64 - 1
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_SECRET_REF = re.compile(r"\{\{secret:([A-Za-z0-9][A-Za-z0-9_.@/-]{0,99})\}\}")


class ResultCode(IntEnum):
    """Outcome of an oracle request: the same integers on chain, in the API and in the docs.

    Where Neo's native oracle has the same meaning, the value is Neo's ``OracleResponseCode``.
    """

    SUCCESS = 0x00
    NOT_FOUND = 0x14  # upstream 404/410, or the filter matched nothing
    TIMEOUT = 0x16  # the whole fetch (resolution, connect, redirects, body) exceeded the timeout
    FORBIDDEN = 0x18  # refused by policy: SSRF guard, scheme, malformed URL, a secret echoed back
    TOO_LARGE = 0x1A  # body above the response limit, or result above the result limit
    BAD_FILTER = 0x1D  # filter syntax error, or a filter applied to a non-JSON body
    UNSUPPORTED_CONTENT_TYPE = 0x1F  # neither JSON nor text
    UPSTREAM_ERROR = 0xFF  # connection failure, TLS failure, HTTP error status, malformed JSON, ...


class OracleContractState(IntEnum):
    """State of a request in the oracle contract, as its ``getRequest`` returns first."""

    NONE = 0
    PENDING = 1
    FULFILLED = 2
    DELIVERED = 3
    CALLBACK_FAILED = 4
    #: unanswered past the refund timeout: the fee went back to the consumer, never fulfilled
    REFUNDED = 5


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _prefixed(name: str, value: bytes) -> bytes:
    if len(value) > _U32_MAX:
        raise InvalidInput(f"{name} is too long")
    return _u32(len(value)) + value


@dataclass(frozen=True, slots=True)
class OracleFacts:
    """What one answer is bound to: the network, the contract, the request, its consumer, URL and filter.

    ``url`` is the URL as requested (on chain: the request's URL, an ``https://`` URL or
    ``nsl://template/<id>``); ``filter`` is the request's filter.
    """

    magic: int
    contract: bytes
    request_id: int
    consumer: bytes
    url: str
    filter: str

    def __post_init__(self) -> None:
        if isinstance(self.magic, bool) or not isinstance(self.magic, int) or not 0 <= self.magic < 2**32:
            raise InvalidInput("network magic must be between 0 and 2^32-1")
        for name, value in (("contract", self.contract), ("consumer", self.consumer)):
            if not isinstance(value, bytes) or len(value) != HASH160_BYTES:
                raise InvalidInput(f"{name} must be {HASH160_BYTES} bytes")
        encode_request_id(self.request_id)
        if not isinstance(self.url, str) or not isinstance(self.filter, str):
            raise InvalidInput("url and filter must be text")

    @classmethod
    def offchain(cls, request_id: int, tenant: str, url: str, filter_: str) -> OracleFacts:
        """Facts of an off-chain answer for ``tenant`` (no contract accepts them)."""
        return cls(OFFCHAIN_MAGIC, OFFCHAIN_CONTRACT, request_id, offchain_consumer(tenant), url, filter_)

    @property
    def is_offchain(self) -> bool:
        return self.magic == OFFCHAIN_MAGIC and self.contract == OFFCHAIN_CONTRACT


def offchain_consumer(tenant: str) -> bytes:
    """The 20-byte consumer of a tenant's off-chain oracle answers: a hash of the tenant id."""
    encoded = tenant.encode()
    digest = hashlib.sha256(OFFCHAIN_CONSUMER_TAG + len(encoded).to_bytes(2, "big") + encoded).digest()
    return digest[:HASH160_BYTES]


def response_message(facts: OracleFacts, code: ResultCode | int, timestamp_ms: int, result: bytes) -> bytes:
    """The exact bytes the enclave's oracle key signs and ``fulfill`` verifies."""
    if not 0 <= int(code) <= _U32_MAX:
        raise InvalidInput("code out of range")
    if not 0 <= timestamp_ms <= _U64_MAX:
        raise InvalidInput("timestamp out of range")
    return b"".join(
        (
            MESSAGE_TAG,
            _u32(facts.magic),
            facts.contract,
            encode_request_id(facts.request_id),
            facts.consumer,
            _u32(int(code)),
            struct.pack("<Q", timestamp_ms),
            _prefixed("url", facts.url.encode()),
            _prefixed("filter", facts.filter.encode()),
            _prefixed("result", result),
        )
    )


def secret_references(text: str) -> list[str]:
    """Names referenced as ``{{secret:name}}`` in ``text``, in order of first appearance."""
    names: list[str] = []
    for match in _SECRET_REF.finditer(text):
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def inject_secrets(text: str, values: dict[str, str]) -> str:
    """Replace each ``{{secret:name}}`` with ``values[name]``; a missing name raises ``InvalidInput``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise InvalidInput(f"secret {name} was referenced but not supplied")
        return values[name]

    return _SECRET_REF.sub(replace, text)


def is_template_url(url: str) -> bool:
    return url.startswith(TEMPLATE_URL_PREFIX)


def check_request(url: str, filter_: str, user_data: bytes) -> None:
    """The contract's limits on a request, checked before anything is sent."""
    if not 1 <= len(url.encode()) <= MAX_URL_BYTES:
        raise InvalidInput(f"url must be 1-{MAX_URL_BYTES} bytes")
    if len(filter_.encode()) > MAX_FILTER_BYTES:
        raise InvalidInput(f"filter must be at most {MAX_FILTER_BYTES} bytes")
    if len(user_data) > MAX_USER_DATA:
        raise InvalidInput(f"userData must be at most {MAX_USER_DATA} bytes")


@dataclass(frozen=True, slots=True)
class FetchSpec:
    """What to fetch: an on-chain GET URL, or a tenant's template (method, headers, body) resolved.

    Header values and the body may reference tenant secrets as ``{{secret:name}}``; the enclave injects
    the values, so they never exist in the clear outside it. The URL may not reference secrets (it is
    signed and published on chain).
    """

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    filter: str = ""
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_result_bytes: int = MAX_RESULT_BYTES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    def secret_names(self) -> list[str]:
        """Every secret referenced by a header value or the body."""
        names: list[str] = []
        for text in [value for _, value in self.headers] + [self.body or ""]:
            names += [n for n in secret_references(text) if n not in names]
        return names

    def check(self) -> FetchSpec:
        """Return the spec if it is well formed, else raise ``InvalidInput`` saying what is wrong."""
        if self.method not in METHODS:
            raise InvalidInput("method must be GET or POST")
        if self.body is not None and self.method != "POST":
            raise InvalidInput("only POST requests carry a body")
        if self.body is not None and len(self.body.encode()) > MAX_BODY_BYTES:
            raise InvalidInput(f"body must be at most {MAX_BODY_BYTES} bytes")
        if secret_references(self.url):
            raise InvalidInput("the URL may not reference secrets; put them in headers or the body")
        if len(self.filter) > MAX_FILTER_CHARS:
            raise InvalidInput(f"filter must be at most {MAX_FILTER_CHARS} characters")
        if len(self.headers) > MAX_HEADERS:
            raise InvalidInput(f"at most {MAX_HEADERS} headers")
        size = 0
        for name, value in self.headers:
            if not _TOKEN.fullmatch(name):
                raise InvalidInput("header names must be HTTP tokens of at most 64 characters")
            if name.lower() in RESERVED_HEADERS:
                raise InvalidInput(f"header {name} is set by the fetcher")
            if any(c in value for c in "\r\n\0"):
                raise InvalidInput(f"header {name} has a line break or NUL in its value")
            size += len(name) + len(value.encode())
        if size > MAX_HEADER_BYTES:
            raise InvalidInput(f"headers must total at most {MAX_HEADER_BYTES} bytes")
        if not 1 <= self.max_response_bytes <= MAX_RESPONSE_BYTES:
            raise InvalidInput(f"max_response_bytes must be 1-{MAX_RESPONSE_BYTES}")
        if not 1 <= self.max_result_bytes <= MAX_RESULT_BYTES:
            raise InvalidInput(f"max_result_bytes must be 1-{MAX_RESULT_BYTES}")
        if not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise InvalidInput(f"timeout_seconds must be above 0 and at most {MAX_TIMEOUT_SECONDS:g}")
        if not 0 <= self.max_redirects <= MAX_REDIRECTS:
            raise InvalidInput(f"max_redirects must be 0-{MAX_REDIRECTS}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "headers": [[name, value] for name, value in self.headers],
            "body": self.body,
            "filter": self.filter,
            "max_response_bytes": self.max_response_bytes,
            "max_result_bytes": self.max_result_bytes,
            "timeout_seconds": self.timeout_seconds,
            "max_redirects": self.max_redirects,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FetchSpec:
        """Inverse of ``to_dict`` (missing optional fields take their defaults); raises ``InvalidInput``."""
        try:
            url = data["url"]
            headers = data.get("headers") or []
            pairs = tuple((str(name), str(value)) for name, value in headers)
            if not isinstance(url, str) or not all(isinstance(v, str) for pair in headers for v in pair):
                raise TypeError
            body = data.get("body")
            if body is not None and not isinstance(body, str):
                raise TypeError
            spec = cls(
                url=url,
                method=_typed(data, "method", str, "GET"),
                headers=pairs,
                body=body,
                filter=_typed(data, "filter", str, ""),
                max_response_bytes=_typed(data, "max_response_bytes", int, MAX_RESPONSE_BYTES),
                max_result_bytes=_typed(data, "max_result_bytes", int, MAX_RESULT_BYTES),
                timeout_seconds=float(_typed(data, "timeout_seconds", (int, float), DEFAULT_TIMEOUT_SECONDS)),
                max_redirects=_typed(data, "max_redirects", int, DEFAULT_MAX_REDIRECTS),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InvalidInput("request spec is malformed") from None
        return spec.check()


def _typed(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(name)
    return value


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """The sealed blob of one version of a tenant secret (label ``secret:<name>:v<version>``)."""

    name: str
    version: int
    blob: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class OracleResponse:
    """A signed oracle answer: ``signature`` is over ``message()`` by the oracle key (key id, version)."""

    facts: OracleFacts
    code: ResultCode
    result: bytes
    timestamp_ms: int
    signature: bytes
    key_id: str
    key_version: int
    public_key: bytes
    status: int | None = None
    content_type: str | None = None
    detail: str = ""

    @property
    def request_id(self) -> int:
        return self.facts.request_id

    @property
    def url(self) -> str:
        return self.facts.url

    @property
    def filter(self) -> str:
        return self.facts.filter

    def message(self) -> bytes:
        """The signed bytes (``response_message`` of this answer)."""
        return response_message(self.facts, self.code, self.timestamp_ms, self.result)
