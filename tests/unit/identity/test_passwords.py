"""Password policy and the sign-in throttle rule (backoff per account and client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.kernel.identity.rules.errors import WeakPassword
from neo_service_layer.kernel.identity.rules.passwords import (
    LockoutPolicy,
    LockoutState,
    check_password,
    common_passwords,
    throttle_keys,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_shipped_common_list_is_loaded() -> None:
    common = common_passwords()
    assert "password1234" in common
    assert len(common) > 500


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw1", "at least 12"),
        ("Password1234", "common"),
        ("QWERTY123456", "common"),
        ("alice.example", "username"),
        ("aaaaaaaaaaaaab", "too few"),
        ("x" * 1025 + "yz12", "at most"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_password(password, username="Alice.Example")


def test_acceptable_passwords() -> None:
    check_password("a long enough pass phrase")
    check_password("Tr0ub4dor&3xyz", username="alice")
    with pytest.raises(WeakPassword):
        check_password("a long enough pass phrase", min_length=40)


def test_after_five_failures_the_waits_double_up_to_the_cap() -> None:
    policy = LockoutPolicy(max_delay=timedelta(seconds=10))
    state = LockoutState()
    now = T0
    for _ in range(4):
        state = state.after_failure(now, policy, policy.max_failures)
        assert state.retry_after(now) == 0
    waits = []
    for _ in range(5):
        state = state.after_failure(now, policy, policy.max_failures)
        waits.append(state.retry_after(now))
        # a failure while waiting is not counted (the attempt is refused before any check)
        assert state.after_failure(now, policy, policy.max_failures) == state
        now += timedelta(seconds=waits[-1])
        assert not state.is_locked(now)
    assert waits == [1, 2, 4, 8, 10]


def test_counts_are_forgotten_a_window_after_the_first_failure() -> None:
    policy = LockoutPolicy(window=timedelta(hours=1))
    state = LockoutState()
    for i in range(5):
        state = state.after_failure(T0 + timedelta(minutes=i), policy, 5)
    assert state.is_locked(T0 + timedelta(minutes=4))
    later = state.after_failure(T0 + timedelta(hours=1), policy, 5)
    assert later.failures == 1
    assert later.retry_after(T0 + timedelta(hours=1)) == 0


def test_a_count_only_key_never_waits() -> None:
    policy = LockoutPolicy()
    state = LockoutState()
    for i in range(100):
        state = state.after_failure(T0 + timedelta(seconds=i), policy, None)
    assert state.failures == 100
    assert not state.is_locked(T0 + timedelta(seconds=100))


def test_throttle_keys_pair_the_account_with_the_client() -> None:
    keys = throttle_keys("Alice", "203.0.113.9")
    assert keys == throttle_keys("ALICE", "203.0.113.9")
    assert keys.client == "ip:203.0.113.9"
    assert keys.account.startswith("acct:")
    assert keys.pair.startswith("pair:")
    assert keys.pair.endswith(":203.0.113.9")
    assert throttle_keys("Alice", "198.51.100.1").pair != keys.pair
    assert throttle_keys("Alice", "198.51.100.1").account == keys.account
    assert throttle_keys("Alice", None).client is None
    assert len(throttle_keys("x" * 500, "f" * 500).pair) <= 200
