"""Tenant jobs over the API: their trigger, their due occurrences, the webhook's signature and what
becomes of a run (delivered, retried after a backoff, failed or skipped, each with its reason).

A job's occurrences are unix seconds: cron minute starts or ``anchor + k * every_seconds`` (k >= 1),
found with the upkeeps' rules (:func:`schedule.due_time_occurrences`), so a tenant job and an upkeep
with the same trigger are due at the same times. A job on a block trigger (an event or a condition,
:mod:`job_triggers`) has no time occurrences: the worker's block scanner records its runs. Standard
library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from neo_service_layer.services.automation.rules.cron import (
    InvalidTrigger,
    cron_masks,
    next_cron,
    parse_cron,
)
from neo_service_layer.services.automation.rules.job_triggers import JobCondition, JobEvent
from neo_service_layer.services.automation.rules.schedule import CatchUp, due_time_occurrences
from neo_service_layer.services.automation.rules.triggers import CronTrigger, IntervalSecondsTrigger

#: a delivery is tried at most this many times (the first try and two retries)
MAX_ATTEMPTS = 3
#: seconds before the retry that follows the n-th failed attempt (n = 1, 2)
RETRY_BACKOFF_SECONDS = (10, 60)
#: the headers a webhook receiver checks: the unix time signed and ``sha256=<hex>``
TIMESTAMP_HEADER = "X-NSL-Timestamp"
SIGNATURE_HEADER = "X-NSL-Signature"
JOB_HEADER = "X-NSL-Job"


class RunStatus(StrEnum):
    PENDING = "pending"  # recorded by the block scanner; claimed by a worker from ``retry_at`` on
    RUNNING = "running"  # claimed by a worker under a lease
    RETRYING = "retrying"  # a retryable failure; tried again at ``retry_at``
    SENT = "sent"  # a contract call's transaction is recorded and sent; looked at again at ``retry_at``
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"  # never run: the reason says why (missed while no worker ran)


class JobState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class JobTrigger:
    """Exactly one of a 5-field cron expression (UTC), an interval in seconds, an event and a
    condition. A block trigger's ``anchor`` is the job's start block (its time triggers': unix seconds)."""

    cron: str | None = None
    every_seconds: int | None = None
    event: JobEvent | None = None
    condition: JobCondition | None = None

    def __post_init__(self) -> None:
        given = [t for t in (self.cron, self.every_seconds, self.event, self.condition) if t is not None]
        if len(given) != 1:
            raise InvalidTrigger(
                "give one of a cron expression, an interval in seconds, an event or a condition"
            )
        if self.event is not None and not isinstance(self.event, JobEvent):
            raise InvalidTrigger("an event trigger must be a JobEvent")
        if self.condition is not None and not isinstance(self.condition, JobCondition):
            raise InvalidTrigger("a condition trigger must be a JobCondition")
        if not self.on_blocks:
            self.schedule()  # InvalidTrigger when malformed

    @property
    def on_blocks(self) -> bool:
        """An event or condition trigger: read from blocks, not from the clock."""
        return self.event is not None or self.condition is not None

    @property
    def kind(self) -> str:
        """``cron``, ``interval``, ``event`` or ``condition``."""
        if self.event is not None:
            return "event"
        if self.condition is not None:
            return "condition"
        return "cron" if self.cron is not None else "interval"

    def schedule(self) -> CronTrigger | IntervalSecondsTrigger:
        if self.cron is not None:
            return CronTrigger(cron_masks(parse_cron(self.cron)), self.cron)
        if self.every_seconds is None:
            raise InvalidTrigger("a block trigger has no time schedule")
        return IntervalSecondsTrigger(self.every_seconds)

    def as_dict(self) -> dict[str, Any]:
        if self.event is not None:
            return {"event": self.event.as_dict()}
        if self.condition is not None:
            return {"condition": self.condition.as_dict()}
        return {"cron": self.cron} if self.cron is not None else {"everySeconds": self.every_seconds}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobTrigger:
        event, condition = data.get("event"), data.get("condition")
        return cls(
            cron=data.get("cron"),
            every_seconds=data.get("everySeconds"),
            event=JobEvent.from_dict(event) if isinstance(event, dict) else None,
            condition=JobCondition.from_dict(condition) if isinstance(condition, dict) else None,
        )


def due_occurrences(
    trigger: JobTrigger, anchor: int, scanned: int, now: int, catch_up: CatchUp
) -> tuple[list[int], list[int]]:
    """(to run, skipped as missed) in ``(max(anchor, scanned), now]``; see ``due_time_occurrences``.
    A block trigger has none here (the block scanner records them)."""
    if trigger.on_blocks:
        return [], []
    return due_time_occurrences(trigger.schedule(), anchor, scanned, now, catch_up)


def next_occurrence(trigger: JobTrigger, anchor: int, after: int) -> int | None:
    """The first occurrence strictly after ``after`` (``None``: a cron date that never comes, or a
    block trigger)."""
    if trigger.on_blocks:
        return None
    if trigger.cron is not None:
        return next_cron(parse_cron(trigger.cron), after)
    assert trigger.every_seconds is not None
    every = trigger.every_seconds
    return anchor + max(1, (after - anchor) // every + 1) * every


def webhook_body(
    job_id: str, occurrence: int, data: Any | None, extra: dict[str, Any] | None = None
) -> bytes:
    """The JSON the receiver gets: the job, the occurrence and its due time, and the job's own data.
    A block trigger's run has no due time: ``extra`` (:func:`job_triggers.event_payload`,
    ``condition_payload``) says which block, transaction, notification or check."""
    payload: dict[str, Any] = {"job_id": job_id, "occurrence": occurrence}
    if extra is not None:
        payload.update({k: v for k, v in extra.items() if k not in ("job_id", "occurrence", "data")})
    else:
        payload["scheduled_at"] = datetime.fromtimestamp(occurrence, UTC).isoformat().replace("+00:00", "Z")
    if data is not None:
        payload["data"] = data
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 under the job's secret over ``<timestamp>.<body>``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(secret: bytes, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does (constant time); it should also refuse a timestamp far from its clock."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one attempt got: the HTTP status (``None``: no response) and, on failure, why."""

    http_status: int | None
    error: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.http_status is not None and 200 <= self.http_status < 300


def classify(http_status: int) -> Delivery:
    """2xx delivered; 408, 429 and 5xx worth another try; any other status (3xx included: redirects
    are not followed) a final failure."""
    if 200 <= http_status < 300:
        return Delivery(http_status)
    retryable = http_status in (408, 429) or http_status >= 500
    what = "redirects are not followed" if 300 <= http_status < 400 else "the receiver answered"
    return Delivery(http_status, f"{what}: HTTP {http_status}", retryable)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run's row ends an attempt: its new status, and when to try again for ``RETRYING``."""

    status: RunStatus
    retry_at: int | None
    reason: str | None


def after_attempt(delivery: Delivery, attempts: int, now: int) -> Outcome:
    """The run's status once its ``attempts``-th attempt got ``delivery``."""
    if delivery.ok:
        return Outcome(RunStatus.DELIVERED, None, None)
    reason = delivery.error or "no response"
    if delivery.retryable and attempts < MAX_ATTEMPTS:
        wait = RETRY_BACKOFF_SECONDS[min(attempts, len(RETRY_BACKOFF_SECONDS)) - 1]
        return Outcome(RunStatus.RETRYING, now + wait, reason)
    if delivery.retryable:
        reason = f"{reason} (gave up after {attempts} attempts)"
    return Outcome(RunStatus.FAILED, None, reason)


#: the statuses of a run that is over (the clean-up deletes these once old enough)
FINISHED = (RunStatus.DELIVERED, RunStatus.FAILED, RunStatus.SKIPPED)


def lease_lost(attempts: int) -> str | None:
    """Why a run claimed again after its worker's lease ran out (killed mid-run) is not tried again:
    ``attempts`` counts this claim, so past MAX_ATTEMPTS it fails instead."""
    if attempts <= MAX_ATTEMPTS:
        return None
    return f"the worker stopped mid-run {attempts - 1} times"
