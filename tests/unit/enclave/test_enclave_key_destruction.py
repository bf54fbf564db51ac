"""The enclave decides destruction: only a key its tenant disabled at least the grace period before,
by the enclave's own clock, and did not enable again since."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from enclave_fakes import FakeClock

from neo_service_layer.enclave.clients import API, CLI, WORKER, allowed_ops
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.revocations import DESTRUCTION_GRACE_SECONDS, Revocations
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.settings import EnclaveConfigurationError, load_enclave_settings
from neo_service_layer.enclave.wire.keys import (
    DestructionRefused,
    KeyDisabled,
    KeyKind,
    KeyNotLoaded,
    KeyPolicy,
    KeyStatus,
    PolicyDenied,
    Purpose,
    SealedKey,
)
from neo_service_layer.enclave.wire.protocol import Args

POLICY = KeyPolicy.of("acme", [Purpose.MESSAGE])
DAY = 24 * 3600.0


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NSL_* variable of the machine running the tests reaches the enclave settings read here."""
    for name in list(os.environ):
        if name.startswith("NSL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NSL_DATA_DIR", str(tmp_path))


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(sealer: Sealer, wall: FakeClock) -> KeyStore:
    return KeyStore(sealer, Revocations(sealer, None, clock=wall))


@pytest.fixture
def key(store: KeyStore) -> SealedKey:
    return store.create(KeyKind.SECP256R1, POLICY)


def _gone(store: KeyStore, key: SealedKey) -> None:
    """The key is destroyed: not held any more, and its record is refused from now on."""
    with pytest.raises(KeyNotLoaded):
        store.info(key.info.key_id)
    with pytest.raises(KeyDisabled, match="destroyed"):
        store.load(key.info.key_id, key.sealed_record)


def test_the_grace_is_seven_days_by_default(sealer: Sealer) -> None:
    assert DESTRUCTION_GRACE_SECONDS == 7 * DAY
    assert Revocations(sealer, None).grace_seconds == 7 * DAY
    assert load_enclave_settings().key_destruction_grace_seconds == 7 * DAY


def test_a_destroy_before_the_grace_is_refused(store: KeyStore, key: SealedKey, wall: FakeClock) -> None:
    store.disable(key.info.key_id, "acme")
    wall.now += 7 * DAY - 1
    with pytest.raises(DestructionRefused, match="disabled 604799 s ago"):
        store.destroy(key.info.key_id, "acme")
    assert store.info(key.info.key_id).status is KeyStatus.DISABLED  # still held, nothing forgotten


def test_a_destroy_after_the_grace_is_carried_out(store: KeyStore, key: SealedKey, wall: FakeClock) -> None:
    store.disable(key.info.key_id, "acme")
    wall.now += 7 * DAY
    store.destroy(key.info.key_id, "acme")
    _gone(store, key)


def test_a_key_never_disabled_is_refused_however_old(
    store: KeyStore, key: SealedKey, wall: FakeClock
) -> None:
    wall.now += 365 * DAY
    with pytest.raises(DestructionRefused, match="not disabled"):
        store.destroy(key.info.key_id, "acme")
    assert store.info(key.info.key_id).status is KeyStatus.ACTIVE


def test_a_destroy_after_a_re_enable_is_refused(store: KeyStore, key: SealedKey, wall: FakeClock) -> None:
    store.disable(key.info.key_id, "acme")
    wall.now += 3 * DAY
    [enabled] = store.enable(key.info.key_id, "acme")
    assert enabled.info.status is KeyStatus.ACTIVE
    wall.now += 30 * DAY
    with pytest.raises(DestructionRefused, match="not disabled"):
        store.destroy(key.info.key_id, "acme")
    # disabled again: the grace counts from the new disable, not the first one
    store.disable(key.info.key_id, "acme")
    wall.now += 7 * DAY - 1
    with pytest.raises(DestructionRefused):
        store.destroy(key.info.key_id, "acme")
    wall.now += 1
    store.destroy(key.info.key_id, "acme")
    _gone(store, key)


def test_disabling_again_does_not_restart_the_grace(store: KeyStore, key: SealedKey, wall: FakeClock) -> None:
    store.disable(key.info.key_id, "acme")
    wall.now += 6 * DAY
    store.disable(key.info.key_id, "acme")
    wall.now += DAY
    store.destroy(key.info.key_id, "acme")
    _gone(store, key)


def test_only_the_owner_may_enable_and_a_destroyed_key_stays_destroyed(
    store: KeyStore, key: SealedKey, wall: FakeClock
) -> None:
    store.disable(key.info.key_id, "acme")
    with pytest.raises(PolicyDenied, match="another tenant"):
        store.enable(key.info.key_id, "evil")
    wall.now += 7 * DAY
    store.destroy(key.info.key_id, "acme")
    with pytest.raises(KeyDisabled):
        store.load(key.info.key_id, key.sealed_record)
    revocations = Revocations(Sealer(b"\x01" * 32), None, clock=wall)
    revocations.disable("k_1")
    wall.now += 7 * DAY
    revocations.destroy("k_1")
    with pytest.raises(KeyDisabled):
        revocations.enable("k_1")


def test_an_enabled_key_signs_again_and_its_resealed_record_loads_active(
    store: KeyStore, key: SealedKey, sealer: Sealer, wall: FakeClock
) -> None:
    [disabled] = store.disable(key.info.key_id, "acme")
    [enabled] = store.enable(key.info.key_id, "acme")
    fresh = KeyStore(sealer, Revocations(sealer, None, clock=wall))
    assert fresh.load(key.info.key_id, enabled.sealed_record).status is KeyStatus.ACTIVE
    assert fresh.load(key.info.key_id, disabled.sealed_record).status is KeyStatus.DISABLED


def test_the_disable_time_survives_a_restart(sealer: Sealer, tmp_path: Path, wall: FakeClock) -> None:
    state = tmp_path / "revocations.sealed"
    store = KeyStore(sealer, Revocations(sealer, state, clock=wall))
    key = store.create(KeyKind.SECP256R1, POLICY)
    store.disable(key.info.key_id, "acme")
    wall.now += 5 * DAY
    restarted = KeyStore(sealer, Revocations(sealer, state, clock=wall))
    restarted.load(key.info.key_id, key.sealed_record)
    with pytest.raises(DestructionRefused):  # a restart does not reset (or skip) the grace
        restarted.destroy(key.info.key_id, "acme")
    wall.now += 2 * DAY
    restarted.destroy(key.info.key_id, "acme")
    _gone(KeyStore(sealer, Revocations(sealer, state, clock=wall)), key)


def test_a_state_file_without_times_counts_the_grace_from_the_upgrade(
    sealer: Sealer, tmp_path: Path, wall: FakeClock
) -> None:
    state = tmp_path / "revocations.sealed"
    old = b'{"disabled": ["k_old"], "destroyed": []}'
    state.write_bytes(sealer.seal(SealUse.ENCLAVE_STATE, {"name": "revocations"}, old))
    upgraded = Revocations(sealer, state, clock=wall)
    assert upgraded.disabled_at("k_old") == wall.now
    wall.now += 7 * DAY - 1
    with pytest.raises(DestructionRefused):
        Revocations(sealer, state, clock=wall).destroy("k_old")  # the time was saved, not reset
    wall.now += 1
    Revocations(sealer, state, clock=wall).destroy("k_old")


def test_the_grace_is_an_enclave_setting_never_an_operation_argument(
    sealer: Sealer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NSL_KEY_DESTRUCTION_GRACE_SECONDS", "1")
    assert load_enclave_settings().key_destruction_grace_seconds == 1
    monkeypatch.setenv("NSL_ENV", "production")
    with pytest.raises(EnclaveConfigurationError, match="at least 7 days"):
        load_enclave_settings()
    # the destroy operation reads key id and tenant only: a "grace" argument changes nothing
    keys = KeyStore(sealer, Revocations(sealer, None))
    ops = EnclaveOperations(SimulationPlatform(tmp_path), sealer, keys)
    key = keys.create(KeyKind.SECP256R1, POLICY)
    ops.dispatch("disable", Args({"key_id": key.info.key_id, "tenant": "acme"}))
    with pytest.raises(DestructionRefused):
        ops.dispatch("destroy", Args({"key_id": key.info.key_id, "tenant": "acme", "grace_seconds": 0}))


def test_enable_is_the_api_s_and_the_worker_only_asks_for_destroy() -> None:
    assert {"disable", "enable", "destroy"} <= allowed_ops(API)
    assert "destroy" in allowed_ops(WORKER)
    assert not {"disable", "enable"} & (allowed_ops(WORKER) | allowed_ops(CLI))
