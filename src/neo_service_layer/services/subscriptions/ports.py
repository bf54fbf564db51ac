"""What the subscriptions use cases need: records and the Protocols their adapters implement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from neo_service_layer.kernel.events.rules import TenantEvent


class State(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    #: the endpoint answered 410 Gone: nothing is sent until the tenant resumes it
    DISABLED = "disabled"


class Kind(StrEnum):
    WEBHOOK = "webhook"
    STREAM = "stream"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    tenant_id: str
    name: str
    types: tuple[str, ...]
    kind: Kind
    url: str | None
    state: State
    reason: str | None
    #: it gets the tenant's events after this id (the head when it was created)
    start_event: int
    created_at: datetime
    #: a rotation's previous secret still signs until then (unix seconds)
    previous_until: int | None = None
    #: the chain filter (``{"contract", "event", "filters"}`` as JSON) of a ``chain.notification`` source
    chain: str | None = None
    #: a chain-filtered subscription sees the blocks after this one (the head when it was created)
    start_block: int | None = None
    #: the e-mail channel's address
    email: str | None = None
    #: the request filter (``{"consumer", "service"}`` as JSON) of a ``request.*`` source
    requests: str | None = None

    @property
    def source_filter(self) -> str | None:
        """What the relay and the stream match events with: the chain or the request filter."""
        return self.chain if self.chain is not None else self.requests


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: int
    type: str
    occurred_at: datetime
    #: the JSON object as stored
    data: str


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: int
    status: DeliveryStatus
    attempts: int
    last_status: int | None
    last_error: str | None
    #: the next attempt (unix seconds), pending ones only
    next_at: float | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claim:
    subscription_id: str
    tenant_id: str
    event_id: int
    #: attempts including this one
    attempts: int
    first_attempt_at: float


@dataclass(frozen=True, slots=True)
class Target:
    """What a claimed delivery is sent with: URL (webhook) or address (e-mail), sealed secrets (current
    first), the event."""

    url: str | None
    sealed: tuple[bytes, ...]
    event: StoredEvent
    kind: Kind = Kind.WEBHOOK
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """A POST's result: the HTTP status (``None``: no answer) and why it failed."""

    status: int | None
    error: str | None = None


#: whether a subscription (its types, its chain filter as JSON) gets an event (its type, its JSON data)
Matcher = Callable[[Sequence[str], str | None, str, str], bool]


@dataclass(frozen=True, slots=True)
class Watcher:
    """A chain-filtered subscription as the chain scanner sees it."""

    subscription_id: str
    tenant_id: str
    #: the filter as JSON (``{"contract", "event", "filters"}``)
    chain: str
    start_block: int


class ChainSourceStore(Protocol):
    async def cursor(self, head: int) -> int:
        """The last block scanned (``head`` the first time: the scan starts after it)."""
        ...

    async def watchers(self, block: int) -> list[Watcher]:
        """Chain-filtered subscriptions that see ``block`` (created before it)."""
        ...

    async def advance(
        self, expected: int, block: int, events: Sequence[TenantEvent], watched: Sequence[str]
    ) -> bool:
        """Publish ``events`` and move the cursor from ``expected`` to ``block`` in one transaction;
        ``False`` (nothing written) when the cursor is no longer at ``expected`` or the subscriptions
        that see ``block`` are no longer ``watched`` (their ids: one was created meanwhile)."""
        ...


class SecretBox(Protocol):
    def seal(self, label: str, plaintext: bytes) -> bytes: ...
    def open(self, label: str, sealed: bytes) -> bytes: ...


class Poster(Protocol):
    async def check(self, url: str) -> None: ...
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Sent: ...
    async def aclose(self) -> None:
        """Close the connections kept between posts (the worker stops)."""
        ...


@dataclass(frozen=True, slots=True)
class Mail:
    """One e-mail delivery: the recipient, its headers besides From/To/Date (``Subject``,
    ``Message-ID``, the Standard Webhooks ones) and the text/plain body the signatures cover."""

    to: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Mailed:
    """An SMTP attempt's result: the server's reply code (``None``: no reply), its text and whether it
    ends the delivery at once (a 5xx for this recipient or message)."""

    code: int | None
    error: str | None = None
    permanent: bool = False

    @property
    def accepted(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class Mailer(Protocol):
    @property
    def sender(self) -> str:
        """The From address (``NSL_SMTP_FROM``)."""
        ...

    async def send(self, mail: Mail) -> Mailed: ...


class SubscriptionStore(Protocol):
    async def add(self, subscription: Subscription, secret_sealed: bytes | None) -> Subscription: ...
    async def page(self, tenant_id: str, *, limit: int, after: str | None) -> list[Subscription]: ...
    async def get(self, tenant_id: str, subscription_id: str) -> Subscription | None: ...
    async def delete(self, tenant_id: str, subscription_id: str) -> bool: ...
    async def set_state(
        self, tenant_id: str, subscription_id: str, state: State, reason: str | None
    ) -> bool: ...
    async def rotate(
        self, tenant_id: str, subscription_id: str, sealed: bytes, previous_until: int
    ) -> bool: ...
    async def counts(self, tenant_id: str, subscription_id: str) -> dict[str, int]: ...
    async def deliveries(
        self, tenant_id: str, subscription_id: str, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]: ...
    async def replay(self, tenant_id: str, subscription_id: str, event_id: int, now: float) -> bool: ...
    async def events_after(self, tenant_id: str, after: int, limit: int) -> list[StoredEvent]: ...
    async def head(self, tenant_id: str) -> int: ...


class RelayStore(Protocol):
    async def behind(self, limit: int) -> list[str]: ...
    async def fan_out(self, tenant_id: str, now: float, limit: int, match: Matcher) -> int: ...


class DeliveryStore(Protocol):
    async def due_heads(self, now: float, limit: int, skip: set[str]) -> list[tuple[str, int]]: ...
    async def claim(
        self, subscription_id: str, event_id: int, worker: str, now: float, lease_until: float
    ) -> Claim | None: ...
    async def claim_head(
        self,
        subscription_id: str,
        worker: str,
        now: float,
        lease_until: float,
        *,
        event_id: int | None = None,
        after: int | None = None,
    ) -> Claim | None:
        """The subscription's head if due, active and not held by a live lease (one conditional
        update); when given, only if it is ``event_id`` or after ``after``."""
        ...

    async def target(self, claim: Claim, now: float) -> Target | None: ...
    async def finish(
        self,
        claim: Claim,
        worker: str,
        status: DeliveryStatus,
        *,
        next_at: float | None,
        last_status: int | None,
        error: str | None,
        now: datetime,
    ) -> bool: ...
    async def disable(self, tenant_id: str, subscription_id: str, reason: str) -> None: ...
    async def channels(self, subscription_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Each subscription's kind and webhook URL (its endpoint); a deleted one is missing."""
        ...

    async def redispatch(self, subscription_id: str, event_id: int, at: float) -> None:
        """A dispatched head (its message on the bus) is dispatched again from ``at`` on."""
        ...


class DispatchStore(Protocol):
    async def dispatch(self, now: float, lease_until: float, limit: int) -> list[tuple[str, int]]:
        """Mark each subscription's due head that no lease holds as dispatched until ``lease_until``
        (one conditional update, still the head); the ``(subscription, event)`` pairs marked."""
        ...

    async def release(self, heads: Sequence[tuple[str, int]]) -> None:
        """Clear the dispatch mark of ``heads`` whose message could not be published."""
        ...


class BusUnavailable(Exception):
    """The broker did not confirm a message (down, or the connection was lost)."""


#: what a consumer does with one message: deliver that head (and go on), return when finished
HeadHandler = Callable[[str, int], Awaitable[object]]


class Bus(Protocol):
    @property
    def ready(self) -> bool:
        """Connected now: a publish would be tried."""
        ...

    async def publish(self, heads: Sequence[tuple[str, int]]) -> None:
        """One persistent message per head, each confirmed by the broker (``BusUnavailable``)."""
        ...


class EventJanitor(Protocol):
    async def tenants(self) -> list[str]: ...
    async def delete_finished(self, tenant_id: str, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` delivered or dead deliveries finished before ``before``."""
        ...

    async def delete_events(self, tenant_id: str, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` events that occurred before ``before``, were fanned out, and that no
        delivery row (of an equal or later event) still needs."""
        ...


class WebhookSigner(Protocol):
    async def sign(self, subscription: str, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``v1a,<base64>`` signature of ``{msg_id}.{timestamp}.{body}`` (the enclave's key)."""
        ...


class DeliveryObserver(Protocol):
    def delivered(self, latency_seconds: float) -> None: ...
    def retried(self) -> None: ...
    def dead_lettered(self) -> None: ...
    def disabled(self) -> None: ...
    def deferred(self, reason: str) -> None:
        """A due head left pending (not claimed) because its endpoint is ``busy`` or ``open``."""
        ...
