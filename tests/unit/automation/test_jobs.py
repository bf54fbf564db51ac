"""Rules of tenant jobs: triggers, due occurrences, the webhook's body and signature, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.jobs import (
    MAX_ATTEMPTS,
    RETRY_BACKOFF_SECONDS,
    Delivery,
    JobTrigger,
    RunStatus,
    after_attempt,
    classify,
    due_occurrences,
    lease_lost,
    next_occurrence,
    signature,
    verify_signature,
    webhook_body,
)
from neo_service_layer.services.automation.rules.schedule import MAX_CATCH_UP, CatchUp

T0 = int(datetime(2026, 12, 2, 12, 0, 30, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"cron": "* * * * *", "every_seconds": 60}, {"cron": "61 * * * *"}, {"every_seconds": 9}],
)
def test_a_trigger_is_one_valid_cron_or_interval(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidTrigger):
        JobTrigger(**kwargs)  # type: ignore[arg-type]


def test_trigger_round_trips_through_its_stored_form() -> None:
    for trigger in (JobTrigger(cron="*/5 * * * *"), JobTrigger(every_seconds=30)):
        assert JobTrigger.from_dict(json.loads(json.dumps(trigger.as_dict()))) == trigger


def test_interval_occurrences_are_anchor_plus_multiples() -> None:
    every = JobTrigger(every_seconds=30)
    assert next_occurrence(every, T0, T0) == T0 + 30
    assert next_occurrence(every, T0, T0 + 30) == T0 + 60
    run, missed = due_occurrences(every, T0, T0, T0 + 95, CatchUp.ALL)
    assert (run, missed) == ([T0 + 30, T0 + 60, T0 + 90], [])
    run, missed = due_occurrences(every, T0, T0, T0 + 95, CatchUp.LATEST)
    assert (run, missed) == ([T0 + 90], [T0 + 30, T0 + 60])
    # nothing twice: a scan from where the last one stopped finds only what is new
    assert due_occurrences(every, T0, T0 + 95, T0 + 100, CatchUp.ALL) == ([], [])


def test_cron_occurrences_are_minute_starts() -> None:
    minutely = JobTrigger(cron="* * * * *")
    assert next_occurrence(minutely, T0, T0) == T0 + 30  # 12:01:00
    run, _ = due_occurrences(minutely, T0, T0, T0 + 150, CatchUp.ALL)
    assert run == [T0 + 30, T0 + 90, T0 + 150]


def test_catch_up_all_is_capped_per_scan() -> None:
    run, _ = due_occurrences(JobTrigger(every_seconds=10), T0, T0, T0 + 10 * 100, CatchUp.ALL)
    assert len(run) == MAX_CATCH_UP
    assert run[0] == T0 + 10


def test_body_and_signature_are_what_a_receiver_checks() -> None:
    body = webhook_body("job_1", T0 + 30, {"k": "v"})
    assert json.loads(body) == {
        "job_id": "job_1",
        "occurrence": T0 + 30,
        "scheduled_at": "2026-12-02T12:01:00Z",
        "data": {"k": "v"},
    }
    assert "data" not in json.loads(webhook_body("job_1", T0, None))
    secret = b"whsec_test"
    header = signature(secret, 1700000000, body)
    expected = hmac.new(secret, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"
    assert verify_signature(secret, 1700000000, body, header)
    assert not verify_signature(secret, 1700000001, body, header)
    assert not verify_signature(b"other", 1700000000, body, header)
    assert not verify_signature(secret, 1700000000, body + b" ", header)


@pytest.mark.parametrize(
    ("status", "ok", "retryable"),
    [(200, True, False), (204, True, False), (302, False, False), (404, False, False), (408, False, True),
     (429, False, True), (500, False, True), (503, False, True)],
)  # fmt: skip
def test_statuses(status: int, ok: bool, retryable: bool) -> None:
    delivery = classify(status)
    assert (delivery.ok, delivery.retryable, delivery.http_status) == (ok, retryable, status)


def test_retries_back_off_then_give_up() -> None:
    down = Delivery(503, "the receiver answered: HTTP 503", retryable=True)
    first = after_attempt(down, 1, 1000)
    assert (first.status, first.retry_at) == (RunStatus.RETRYING, 1000 + RETRY_BACKOFF_SECONDS[0])
    second = after_attempt(down, 2, 2000)
    assert (second.status, second.retry_at) == (RunStatus.RETRYING, 2000 + RETRY_BACKOFF_SECONDS[1])
    last = after_attempt(down, MAX_ATTEMPTS, 3000)
    assert last.status is RunStatus.FAILED
    assert last.retry_at is None
    assert last.reason is not None
    assert "HTTP 503" in last.reason
    assert f"after {MAX_ATTEMPTS}" in last.reason
    refused = after_attempt(Delivery(404, "the receiver answered: HTTP 404"), 1, 1000)
    assert (refused.status, refused.reason) == (RunStatus.FAILED, "the receiver answered: HTTP 404")
    assert after_attempt(Delivery(200), 1, 1000).status is RunStatus.DELIVERED


def test_a_run_whose_worker_died_is_retried_a_bounded_number_of_times() -> None:
    assert lease_lost(MAX_ATTEMPTS) is None
    assert lease_lost(MAX_ATTEMPTS + 1) is not None
