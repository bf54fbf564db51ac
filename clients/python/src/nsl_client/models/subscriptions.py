"""Subscriptions to events, their deliveries (Standard Webhooks), and the webhook signing key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nsl_client.models.base import ApiModel, CamelModel


class Subscription(CamelModel):
    subscription_id: str
    name: str
    source: dict[str, Any]
    channel: dict[str, Any]
    state: str
    reason: str | None
    created_at: datetime
    previous_secret_valid_until: datetime | None = None
    counts: dict[str, Any] | None = None


class SubscriptionCreated(CamelModel):
    subscription: Subscription
    #: the webhook signing secret, shown once
    webhook_secret: str | None


class SubscriptionPage(CamelModel):
    subscriptions: list[Subscription]
    next: str | None

    @property
    def items(self) -> Sequence[Subscription]:
        return self.subscriptions

    @property
    def cursor(self) -> str | None:
        return self.next


class WebhookSecretRotated(CamelModel):
    webhook_secret: str
    previous_secret_valid_until: datetime


class Delivery(CamelModel):
    event_id: int
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    finished_at: datetime | None


class DeliveryList(CamelModel):
    deliveries: list[Delivery]


class SigningKey(CamelModel):
    version: str | None = None
    algorithm: str | None = None
    public_key: str
    key_id: str


class StreamEvent(ApiModel):
    """One event of a subscription's stream: the SSE ``id`` (what ``Last-Event-ID`` resumes after) and
    ``event`` (the type), and from its ``data`` (the object a webhook delivery carries) the time, the
    subscription and the event's own data."""

    id: int
    type: str
    timestamp: datetime
    subscription: str
    data: dict[str, Any]
