"""Password policy and the lockout rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.kernel.identity.rules.errors import WeakPassword
from neo_service_layer.kernel.identity.rules.passwords import (
    LockoutPolicy,
    LockoutState,
    check_password,
    common_passwords,
    lockout_keys,
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


def test_five_failures_lock_for_fifteen_minutes() -> None:
    policy = LockoutPolicy()
    state = LockoutState()
    for minute in range(4):
        state = state.after_failure(T0 + timedelta(minutes=minute), policy)
        assert not state.is_locked(T0 + timedelta(minutes=minute))
    state = state.after_failure(T0 + timedelta(minutes=4), policy)
    assert state.failures == 5
    assert state.is_locked(T0 + timedelta(minutes=4))
    assert state.is_locked(T0 + timedelta(minutes=18, seconds=59))
    assert not state.is_locked(T0 + timedelta(minutes=19))
    # further failures while locked do not extend the lock
    assert state.after_failure(T0 + timedelta(minutes=10), policy) == state
    # after the lock, counting starts afresh
    after = state.after_failure(T0 + timedelta(minutes=20), policy)
    assert after.failures == 1
    assert not after.is_locked(T0 + timedelta(minutes=20))


def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    policy = LockoutPolicy()
    state = LockoutState()
    for i in range(10):
        state = state.after_failure(T0 + timedelta(minutes=4 * i), policy)
        assert not state.is_locked(T0 + timedelta(minutes=4 * i))


def test_lockout_keys_cover_account_and_address() -> None:
    assert lockout_keys("Alice", "203.0.113.9") == ("user:alice", "ip:203.0.113.9")
    assert lockout_keys("Alice", None) == ("user:alice",)
