"""Pure rules of keys and secrets: rotation due, signing versions, destruction grace, consumers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from neo_service_layer.enclave.wire.keys import KeyKind, Purpose
from neo_service_layer.services.keys.rules import (
    DESTRUCTION_GRACE,
    InvalidKeyInput,
    KeyNotUsable,
    KeyState,
    KeyVersion,
    ManagedKey,
    check_label,
    check_purposes,
)
from neo_service_layer.services.secrets.rules import (
    Consumer,
    ConsumerNotAllowed,
    InvalidSecretInput,
    SecretExpired,
    SecretVersion,
    TenantSecret,
    check_secret_name,
    expiry,
    seal_label,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def key(**changes: object) -> ManagedKey:
    base = ManagedKey(
        tenant_id="acme",
        key_id="k_1",
        label="main",
        kind=KeyKind.SECP256R1,
        purposes=frozenset({Purpose.MESSAGE}),
        status=KeyState.ACTIVE,
        current_version=1,
        min_sign_version=1,
        created_at=T0,
        versions=(KeyVersion(1, b"\x02" * 33, T0),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_rotation_due_by_age_of_the_current_version() -> None:
    k = key()
    assert not k.rotation_due(T0 + timedelta(days=89), timedelta(days=90))
    assert k.rotation_due(T0 + timedelta(days=90), timedelta(days=90))
    rotated = k.rotated(KeyVersion(2, b"\x03" * 33, T0 + timedelta(days=90)), T0 + timedelta(days=90), None)
    assert not rotated.rotation_due(T0 + timedelta(days=100), timedelta(days=90))
    assert not k.disabled(T0).rotation_due(T0 + timedelta(days=365), timedelta(days=90))


def test_old_versions_only_verify_unless_the_floor_keeps_them() -> None:
    rotated = key().rotated(KeyVersion(2, b"\x03" * 33, T0), T0, None)
    assert rotated.sign_version(None) == 2
    with pytest.raises(KeyNotUsable):
        rotated.sign_version(1)
    kept = key().rotated(KeyVersion(2, b"\x03" * 33, T0), T0, 1)
    assert kept.sign_version(1) == 1
    with pytest.raises(InvalidKeyInput):
        rotated.rotated(KeyVersion(3, b"\x04" * 33, T0), T0, 1)


def test_destruction_grace_is_seven_days_and_cancellable() -> None:
    scheduled = key().destruction_scheduled(T0)
    assert scheduled.state is KeyState.PENDING_DESTRUCTION
    assert scheduled.destroy_after == T0 + DESTRUCTION_GRACE == T0 + timedelta(days=7)
    with pytest.raises(KeyNotUsable):
        scheduled.sign_version(None)
    with pytest.raises(KeyNotUsable):
        scheduled.destruction_scheduled(T0)
    assert not scheduled.destruction_due(T0 + timedelta(days=7) - timedelta(seconds=1))
    assert scheduled.destruction_due(T0 + timedelta(days=7))
    assert scheduled.destruction_cancelled().state is KeyState.ACTIVE
    assert scheduled.disabled(T0).destruction_cancelled().state is KeyState.DISABLED
    destroyed = scheduled.destroyed(T0)
    assert destroyed.state is KeyState.DESTROYED
    with pytest.raises(KeyNotUsable):
        destroyed.destruction_scheduled(T0)


def test_input_rules() -> None:
    assert check_label("  my key ") == "my key"
    with pytest.raises(InvalidKeyInput):
        check_label("bad\nlabel")
    with pytest.raises(InvalidKeyInput):
        check_purposes(KeyKind.SECP256K1, frozenset({Purpose.NEO_TX}))
    with pytest.raises(InvalidKeyInput):
        check_purposes(KeyKind.SECP256R1, frozenset())
    assert seal_label("db/password", 3) == "secret:db/password:v3"
    with pytest.raises(InvalidSecretInput):
        check_secret_name("a:b")
    with pytest.raises(InvalidSecretInput):
        expiry(T0, 0)


def test_secret_consumers_and_expiry() -> None:
    secret = TenantSecret(
        "acme",
        "db",
        frozenset({Consumer.ORACLE}),
        1,
        T0,
        T0,
        (SecretVersion(1, T0, T0 + timedelta(hours=1), "manual", 5),),
    )
    assert secret.check_consumer(Consumer.ORACLE, T0).version == 1
    with pytest.raises(ConsumerNotAllowed):
        secret.check_consumer(Consumer.COMPUTE, T0)
    with pytest.raises(SecretExpired):
        secret.check_consumer(Consumer.ORACLE, T0 + timedelta(hours=1))
