"""Pure rules of the subscriptions: Standard Webhooks signatures, the retry schedule, type matching."""

from __future__ import annotations

import base64

import pytest

from neo_service_layer.kernel.events.rules import EVENT_TYPES, is_security_action
from neo_service_layer.services.subscriptions.rules.matching import UnknownEventType, check_patterns, matches
from neo_service_layer.services.subscriptions.rules.retry import (
    GIVE_UP_AFTER,
    MAX_ATTEMPTS,
    MIN_DELAY,
    SCHEDULE,
    next_retry,
    retry_cap,
)
from neo_service_layer.services.subscriptions.rules.signing import (
    InvalidSignature,
    headers,
    new_secret,
    sign,
    verify,
)

# The Standard Webhooks specification's published test vector (the one its reference libraries test
# against): secret, message id, timestamp and body, and the signature they must give.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    received = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    verify(VECTOR_SECRET, received, VECTOR_BODY, now=VECTOR_TIMESTAMP + 10)
    with pytest.raises(InvalidSignature):
        verify(VECTOR_SECRET, received, b'{"test": 2432232315}', now=VECTOR_TIMESTAMP)
    with pytest.raises(InvalidSignature):  # replayed later than the tolerance
        verify(VECTOR_SECRET, received, VECTOR_BODY, now=VECTOR_TIMESTAMP + 301)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), received, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_rotation_signs_with_every_secret_and_each_verifies() -> None:
    old, new = new_secret(), new_secret()
    assert len(base64.b64decode(new.removeprefix("whsec_"))) == 32
    signed = headers([new, old], "7", 100, b"{}")
    assert signed["webhook-id"] == "7"
    assert signed["webhook-timestamp"] == "100"
    assert len(signed["webhook-signature"].split(" ")) == 2
    verify(new, signed, b"{}", now=100)
    verify(old, signed, b"{}", now=100)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), signed, b"{}", now=100)


def test_retries_back_off_with_full_jitter_then_give_up_after_three_days() -> None:
    assert SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000, 50400)
    for attempts in range(1, 12):
        cap = retry_cap(attempts)
        assert cap == SCHEDULE[min(attempts, len(SCHEDULE)) - 1]
        low = next_retry(attempts, 0.0, 10.0, 0.0)
        high = next_retry(attempts, 0.0, 10.0, 0.999999)
        assert low == 10.0 + MIN_DELAY
        assert high is not None
        assert 10.0 + cap * 0.99 < high <= 10.0 + cap
    assert next_retry(3, 0.0, GIVE_UP_AFTER - 1, 0.5) is not None
    assert next_retry(3, 0.0, GIVE_UP_AFTER, 0.5) is None
    assert next_retry(MAX_ATTEMPTS, 0.0, 10.0, 0.5) is None
    # the worst case (every wait at its cap) stays within the window plus one last wait
    total, attempts = 0.0, 1
    while (at := next_retry(attempts, 0.0, total, 0.999999)) is not None:
        total, attempts = at, attempts + 1
    assert total + SCHEDULE[-1] >= GIVE_UP_AFTER
    assert total < GIVE_UP_AFTER + SCHEDULE[-1]


def test_type_patterns() -> None:
    assert matches(["automation.*"], "automation.run.failed")
    assert matches(["automation.run.*"], "automation.run.delivered")
    assert matches(["*"], "audit.security")
    assert matches(["audit.security"], "audit.security")
    assert not matches(["automation.*"], "audit.security")
    assert not matches(["automation.run.failed"], "automation.run.delivered")
    assert not matches(["automation.run"], "automation.run.failed")
    assert not matches(["auto*"], "automation.run.failed")
    check_patterns(["automation.*", "audit.security", "*"], EVENT_TYPES)
    with pytest.raises(UnknownEventType):
        check_patterns(["automation.job.failed"], EVENT_TYPES)
    with pytest.raises(UnknownEventType):
        check_patterns(["neox.*"], EVENT_TYPES)


def test_security_actions() -> None:
    assert is_security_action("apikey.create", "success")
    assert is_security_action("member.remove", "success")
    assert is_security_action("key.destroy", "success")
    assert is_security_action("auth.login", "failure")
    assert not is_security_action("auth.login", "success")
    assert not is_security_action("automation.job_create", "success")
    assert not is_security_action("secret.access", "success")
