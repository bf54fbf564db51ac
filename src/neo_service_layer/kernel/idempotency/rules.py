"""Idempotency keys: what a repeated POST with the same ``Idempotency-Key`` gets (standard library only).

A key is scoped to (tenant, principal, method, path). The first request claims it; its completed
response (below 500) is kept for a while and replayed to a repeat with the same body fingerprint. A
repeat with another body, or while the first is still running, is refused. Responses that carry a
secret shown once keep no body: a repeat learns only that the original succeeded.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
#: 1 to 255 printable ASCII characters; spaces only inside (HTTP drops them around a header value)
KEY_PATTERN = r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$"
#: a claim not completed within this long (a crashed process) may be taken over by a repeat
IN_FLIGHT_LEASE = timedelta(seconds=120)
#: response headers worth replaying; everything else (dates, rate limits, request ids) is per request
KEPT_HEADERS = frozenset({"content-type", "location", "content-location", "etag", "link"})


class State(StrEnum):
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class KeyScope:
    """Whose key it is and for which operation."""

    tenant_id: str
    actor: str
    method: str
    path: str
    key: str

    def digest(self) -> str:
        """The row's identifier: SHA-256 over every part (paths and keys may be long)."""
        parts = (self.actor, self.method, self.path, self.key)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What is replayed. ``body`` is ``None`` when it was withheld (it carried a one-time secret)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    fingerprint: str
    state: State
    claim_token: str
    locked_until: datetime
    expires_at: datetime
    response: StoredResponse | None


@dataclass(frozen=True, slots=True)
class Claimed:
    token: str


@dataclass(frozen=True, slots=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True, slots=True)
class Withheld:
    """The original completed, but its response carried a one-time secret and was not kept."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class InFlight:
    retry_after_seconds: int


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key was used for a request with another body."""


Outcome = Claimed | Replay | Withheld | InFlight | KeyReused


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def judge(record: KeyRecord, fingerprint: str, now: datetime) -> Outcome | None:
    """What a repeat gets, or ``None`` when the key is free to claim again (expired, or its lease lapsed)."""
    if record.expires_at <= now:
        return None
    if record.fingerprint != fingerprint:
        return KeyReused()
    if record.state is State.IN_FLIGHT:
        if record.locked_until <= now:
            return None
        remaining = (record.locked_until - now).total_seconds()
        return InFlight(max(1, min(5, math.ceil(remaining))))
    assert record.response is not None
    if record.response.body is None:
        return Withheld(record.response)
    return Replay(record.response)


def kept(status: int) -> bool:
    """A 5xx is not kept: the key is released so that a retry runs the operation."""
    return status < 500


def withholds_body(status: int, *, one_time_secret: bool) -> bool:
    """A successful response of an operation that shows a secret once is kept without its body."""
    return one_time_secret and 200 <= status < 300


def kept_headers(headers: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.decode("latin-1").lower()
        if lowered in KEPT_HEADERS:
            found.append((lowered, value.decode("latin-1")))
    return tuple(found)


def resource_id(body: bytes) -> str | None:
    """The id a JSON response names (``id``, ``*Id``, ``*_id``, at the top or one level down), if any:
    what a repeat of a withheld response is told it created."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    levels = [document] if isinstance(document, dict) else []
    if levels:
        levels += [value for value in document.values() if isinstance(value, dict)]
    for level in levels:
        for name, value in level.items():
            named = name == "id" or name.endswith(("Id", "_id"))
            if named and isinstance(value, str) and 0 < len(value) <= 128:
                return value
    return None
