"""Automation jobs and upkeeps, subscriptions, their deliveries and replay."""

from __future__ import annotations

from typing import Any

from nsl_client.calls import Call, nothing, parser, register
from nsl_client.models import (
    DeliveryList,
    Job,
    JobCreated,
    JobPage,
    SigningKey,
    Subscription,
    SubscriptionCreated,
    SubscriptionPage,
    Upkeep,
    UpkeepPage,
    WebhookSecretRotated,
)

CREATE_JOB = register("create_job", "POST", "/api/v1/automation/jobs", JobCreated, creates=True)
LIST_JOBS = register("list_jobs", "GET", "/api/v1/automation/jobs", JobPage)
GET_JOB = register("get_job", "GET", "/api/v1/automation/jobs/{job_id}", Job)
PAUSE_JOB = register("pause_job", "POST", "/api/v1/automation/jobs/{job_id}/pause", Job)
RESUME_JOB = register("resume_job", "POST", "/api/v1/automation/jobs/{job_id}/resume", Job)
DELETE_JOB = register("delete_job", "DELETE", "/api/v1/automation/jobs/{job_id}")
LIST_UPKEEPS = register("list_upkeeps", "GET", "/api/v1/automation/upkeeps", UpkeepPage)
GET_UPKEEP = register("get_upkeep", "GET", "/api/v1/automation/upkeeps/{upkeep_id}", Upkeep)
CREATE_SUBSCRIPTION = register(
    "create_subscription", "POST", "/api/v1/subscriptions", SubscriptionCreated, creates=True
)
LIST_SUBSCRIPTIONS = register("list_subscriptions", "GET", "/api/v1/subscriptions", SubscriptionPage)
GET_SUBSCRIPTION = register(
    "get_subscription", "GET", "/api/v1/subscriptions/{subscription_id}", Subscription
)
PAUSE_SUBSCRIPTION = register(
    "pause_subscription", "POST", "/api/v1/subscriptions/{subscription_id}/pause", Subscription
)
RESUME_SUBSCRIPTION = register(
    "resume_subscription", "POST", "/api/v1/subscriptions/{subscription_id}/resume", Subscription
)
DELETE_SUBSCRIPTION = register("delete_subscription", "DELETE", "/api/v1/subscriptions/{subscription_id}")
ROTATE_WEBHOOK_SECRET = register(
    "rotate_webhook_secret",
    "POST",
    "/api/v1/subscriptions/{subscription_id}/secret/rotate",
    WebhookSecretRotated,
    creates=True,
)
LIST_DELIVERIES = register(
    "list_deliveries", "GET", "/api/v1/subscriptions/{subscription_id}/deliveries", DeliveryList
)
REPLAY_DELIVERY = register(
    "replay_delivery",
    "POST",
    "/api/v1/subscriptions/{subscription_id}/deliveries/{event_id}/replay",
    creates=True,
)
SIGNING_KEY = register("webhook_signing_key", "GET", "/api/v1/webhooks/signing-key", SigningKey)
#: Server-Sent Events, not JSON: ``Client.stream_events`` opens and reads it (``nsl_client.stream``)
STREAM_EVENTS = register(
    "stream_events", "GET", "/api/v1/subscriptions/{subscription_id}/stream", streams=True
)


def create_job(
    name: str,
    trigger: dict[str, Any],
    action: dict[str, Any],
    *,
    catch_up: str | None = None,
    idempotency_key: str | None = None,
) -> Call[JobCreated]:
    """An automation job: ``trigger`` such as ``{"cron": "*/5 * * * *"}`` or ``{"everySeconds": 60}``,
    ``action`` such as ``{"webhook": {"url": "https://..."}}`` (see docs/automation.md)."""
    body: dict[str, Any] = {"name": name, "trigger": trigger, "action": action}
    if catch_up is not None:
        body["catchUp"] = catch_up
    return CREATE_JOB.call(parser(JobCreated), json=body, idempotency_key=idempotency_key)


def list_jobs(*, after: str | None = None, limit: int | None = None) -> Call[JobPage]:
    return LIST_JOBS.call(parser(JobPage), params={"after": after, "limit": limit})


def get_job(job_id: str) -> Call[Job]:
    return GET_JOB.call(parser(Job), path={"job_id": job_id})


def pause_job(job_id: str) -> Call[Job]:
    return PAUSE_JOB.call(parser(Job), path={"job_id": job_id})


def resume_job(job_id: str) -> Call[Job]:
    return RESUME_JOB.call(parser(Job), path={"job_id": job_id})


def delete_job(job_id: str) -> Call[None]:
    return DELETE_JOB.call(nothing, path={"job_id": job_id})


def list_upkeeps(*, after: str | None = None, limit: int | None = None) -> Call[UpkeepPage]:
    """On-chain upkeeps (``after``: an upkeep id as text)."""
    return LIST_UPKEEPS.call(parser(UpkeepPage), params={"after": after, "limit": limit})


def get_upkeep(upkeep_id: int) -> Call[Upkeep]:
    return GET_UPKEEP.call(parser(Upkeep), path={"upkeep_id": upkeep_id})


def create_subscription(
    name: str, source: dict[str, Any], channel: dict[str, Any], *, idempotency_key: str | None = None
) -> Call[SubscriptionCreated]:
    """Subscribe ``channel`` (``{"webhook": {"url": ...}}``, ``{"email": {"to": ...}}`` or
    ``{"stream": {}}``) to the events ``source`` names (see docs/events.md)."""
    body = {"name": name, "source": source, "channel": channel}
    return CREATE_SUBSCRIPTION.call(parser(SubscriptionCreated), json=body, idempotency_key=idempotency_key)


def list_subscriptions(*, after: str | None = None, limit: int | None = None) -> Call[SubscriptionPage]:
    return LIST_SUBSCRIPTIONS.call(parser(SubscriptionPage), params={"after": after, "limit": limit})


def get_subscription(subscription_id: str) -> Call[Subscription]:
    return GET_SUBSCRIPTION.call(parser(Subscription), path={"subscription_id": subscription_id})


def pause_subscription(subscription_id: str) -> Call[Subscription]:
    return PAUSE_SUBSCRIPTION.call(parser(Subscription), path={"subscription_id": subscription_id})


def resume_subscription(subscription_id: str) -> Call[Subscription]:
    return RESUME_SUBSCRIPTION.call(parser(Subscription), path={"subscription_id": subscription_id})


def delete_subscription(subscription_id: str) -> Call[None]:
    return DELETE_SUBSCRIPTION.call(nothing, path={"subscription_id": subscription_id})


def rotate_webhook_secret(subscription_id: str) -> Call[WebhookSecretRotated]:
    return ROTATE_WEBHOOK_SECRET.call(parser(WebhookSecretRotated), path={"subscription_id": subscription_id})


def list_deliveries(
    subscription_id: str, *, status: str | None = None, limit: int | None = None
) -> Call[DeliveryList]:
    """Deliveries of a subscription (``status``: pending, delivered, dead)."""
    return LIST_DELIVERIES.call(
        parser(DeliveryList),
        path={"subscription_id": subscription_id},
        params={"status": status, "limit": limit},
    )


def replay_delivery(subscription_id: str, event_id: int, *, idempotency_key: str | None = None) -> Call[None]:
    """Send a (dead-lettered) delivery again."""
    return REPLAY_DELIVERY.call(
        nothing,
        path={"subscription_id": subscription_id, "event_id": event_id},
        idempotency_key=idempotency_key,
    )


def webhook_signing_key() -> Call[SigningKey]:
    """The public key that signs webhook deliveries (asymmetric Standard Webhooks signatures)."""
    return SIGNING_KEY.call(parser(SigningKey))


def stream_events(subscription_id: str) -> Call[None]:
    """The request that opens a subscription's event stream; ``Client.stream_events`` sends it (with
    ``Last-Event-ID`` when resuming) and reads the events; ``send`` refuses it."""
    return STREAM_EVENTS.call(nothing, path={"subscription_id": subscription_id})
