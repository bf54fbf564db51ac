"""The key store: sealed policy checked on every signature, rotation, disable/destroy, re-provisioning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from enclave_fakes import FakeClock

from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.wire.keys import (
    MAX_SIGN_BATCH,
    InvalidKeyRequest,
    KeyDisabled,
    KeyKind,
    KeyNotLoaded,
    KeyPolicy,
    KeyStatus,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
    SignRateExceeded,
)

POLICY = KeyPolicy.of("acme", [Purpose.ORACLE, Purpose.NEO_TX])
SHA = SignatureFormat.ECDSA_SHA256


def _sign(store: KeyStore, key_id: str, **overrides: object) -> list[bytes]:
    args: dict[str, object] = {"tenant": "acme", "purpose": Purpose.ORACLE, "fmt": SHA}
    args.update(overrides)
    messages = args.pop("messages", [b"m"])
    return store.sign(key_id, messages, **args)  # type: ignore[arg-type]


def test_create_sign_and_reload_elsewhere(keystore: KeyStore, sealer: Sealer) -> None:
    created = keystore.create(KeyKind.SECP256R1, POLICY)
    assert created.info.version == 1
    assert created.info.status is KeyStatus.ACTIVE
    sig = _sign(keystore, created.info.key_id)[0]
    fresh = KeyStore(sealer, Revocations(sealer, None))
    with pytest.raises(KeyNotLoaded):
        _sign(fresh, created.info.key_id)
    info = fresh.load(created.info.key_id, created.sealed_record)
    assert info == created.info
    assert _sign(fresh, created.info.key_id)[0] == sig  # same key, deterministic nonce


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"tenant": "other"}, PolicyDenied),
        ({"purpose": Purpose.RANDOMNESS}, PolicyDenied),
        ({"fmt": SignatureFormat.BLS}, InvalidKeyRequest),
        ({"fmt": SignatureFormat.NEO_TX}, InvalidKeyRequest),
        ({"messages": []}, InvalidKeyRequest),
        ({"messages": [b"m"] * (MAX_SIGN_BATCH + 1)}, InvalidKeyRequest),
        ({"version": 9}, KeyNotLoaded),
    ],
)
def test_refusals(keystore: KeyStore, overrides: dict[str, object], error: type[Exception]) -> None:
    key_id = keystore.create(KeyKind.SECP256R1, POLICY).info.key_id
    with pytest.raises(error):
        _sign(keystore, key_id, **overrides)


def test_rate_limit_per_minute(keystore: KeyStore, clock: FakeClock) -> None:
    key_id = keystore.create(KeyKind.ED25519, KeyPolicy.of("acme", [Purpose.ORACLE], 3)).info.key_id
    ed = SignatureFormat.ED25519
    _sign(keystore, key_id, fmt=ed, messages=[b"a", b"b"])
    with pytest.raises(SignRateExceeded):
        _sign(keystore, key_id, fmt=ed, messages=[b"c", b"d"])
    _sign(keystore, key_id, fmt=ed)
    with pytest.raises(SignRateExceeded):
        _sign(keystore, key_id, fmt=ed)
    clock.now += 60.5
    _sign(keystore, key_id, fmt=ed, messages=[b"e", b"f", b"g"])


def test_rotate_keeps_old_version_public(keystore: KeyStore) -> None:
    first = keystore.create(KeyKind.SECP256K1, POLICY)
    key_id = first.info.key_id
    second = keystore.rotate(key_id, "acme")
    assert second.info.version == 2
    assert second.info.public_key != first.info.public_key
    assert keystore.info(key_id).version == 2
    assert keystore.info(key_id, 1).public_key == first.info.public_key
    with pytest.raises(PolicyDenied):
        keystore.rotate(key_id, "other")


def test_disable_persists_in_resealed_record(keystore: KeyStore, sealer: Sealer) -> None:
    created = keystore.create(KeyKind.SECP256R1, POLICY)
    key_id = created.info.key_id
    with pytest.raises(PolicyDenied):
        keystore.disable(key_id, "other")
    (resealed,) = keystore.disable(key_id, "acme")
    assert resealed.info.status is KeyStatus.DISABLED
    with pytest.raises(KeyDisabled):
        _sign(keystore, key_id)
    fresh = KeyStore(sealer, Revocations(sealer, None))
    assert fresh.load(key_id, resealed.sealed_record).status is KeyStatus.DISABLED


def test_revocations_survive_restart_and_refuse_old_records(sealer: Sealer, tmp_path: Path) -> None:
    state = tmp_path / "revocations.sealed"
    store = KeyStore(sealer, Revocations(sealer, state, grace_seconds=0))
    disabled = store.create(KeyKind.SECP256R1, POLICY)
    destroyed = store.create(KeyKind.SECP256R1, POLICY)
    store.disable(disabled.info.key_id, "acme")
    store.disable(destroyed.info.key_id, "acme")
    store.destroy(destroyed.info.key_id, "acme")
    with pytest.raises(KeyNotLoaded):
        store.info(destroyed.info.key_id)
    restarted = KeyStore(sealer, Revocations(sealer, state))
    # The database hands back the records from before disable/destroy: the enclave still refuses.
    assert restarted.load(disabled.info.key_id, disabled.sealed_record).status is KeyStatus.DISABLED
    with pytest.raises(KeyDisabled):
        restarted.load(destroyed.info.key_id, destroyed.sealed_record)
    assert oct(state.stat().st_mode & 0o777) == "0o600"


def test_record_for_another_key_id_is_refused(keystore: KeyStore) -> None:
    one = keystore.create(KeyKind.SECP256R1, POLICY)
    two = keystore.create(KeyKind.SECP256R1, POLICY)
    with pytest.raises(SealedDataInvalid):
        keystore.load(two.info.key_id, one.sealed_record)


def test_record_from_another_enclave_is_refused(keystore: KeyStore) -> None:
    created = keystore.create(KeyKind.SECP256R1, POLICY)
    other = Sealer(os.urandom(32))
    with pytest.raises(SealedDataInvalid):
        KeyStore(other, Revocations(other, None)).load(created.info.key_id, created.sealed_record)


@pytest.mark.parametrize("key_id", ["", "a" * 65, "../etc", "k 1"])
def test_bad_key_ids(keystore: KeyStore, key_id: str) -> None:
    with pytest.raises(InvalidKeyRequest):
        keystore.info(key_id)


def test_policy_validation() -> None:
    with pytest.raises(InvalidKeyRequest):
        KeyPolicy.of("acme", [])
    with pytest.raises(InvalidKeyRequest):
        KeyPolicy.of("acme", ["launch-missiles"])
    with pytest.raises(InvalidKeyRequest):
        KeyPolicy.of("bad tenant", [Purpose.ORACLE])
    with pytest.raises(InvalidKeyRequest):
        KeyPolicy.of("acme", [Purpose.ORACLE], 0)
    assert KeyPolicy.from_dict(POLICY.to_dict()) == POLICY
    with pytest.raises(InvalidKeyRequest):
        KeyPolicy.from_dict({"tenant": "acme", "purposes": "oracle"})
