"""``randomness_fulfil`` in the enclave, and the refusal of raw signing with randomness keys (no process)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.randomness import RandomnessFulfilOp
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    MAX_SIGN_BATCH,
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args, BadRequest
from neo_service_layer.enclave.wire.randomness import RandomnessFacts, fulfil_message, vrf_input
from neo_service_layer.services.randomness.adapters.proofs import bls_verify, ecdsa_verify

RANDOMNESS = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS])
FACTS = RandomnessFacts(894710606, bytes(range(20)), 5, bytes(range(50, 70)), bytes(32))


def _item(f: RandomnessFacts) -> dict[str, Any]:
    return {
        "magic": f.magic,
        "contract": b64encode(f.contract),
        "request_id": f.request_id,
        "consumer": b64encode(f.consumer),
        "seed": b64encode(f.seed),
    }


@pytest.fixture
def keys(keystore: KeyStore) -> tuple[str, str, bytes, bytes]:
    bls = keystore.create(KeyKind.BLS12_381, RANDOMNESS).info
    ecdsa = keystore.create(KeyKind.SECP256R1, RANDOMNESS).info
    return bls.key_id, ecdsa.key_id, bls.public_key, ecdsa.public_key


def _args(keys: tuple[str, str, bytes, bytes], items: list[Any], tenant: str = PLATFORM_KEY_OWNER) -> Args:
    return Args({"tenant": tenant, "bls_key_id": keys[0], "ecdsa_key_id": keys[1], "items": items})


def test_the_enclave_builds_and_signs_the_v2_messages(
    keystore: KeyStore, keys: tuple[str, str, bytes, bytes]
) -> None:
    (result,) = RandomnessFulfilOp(keystore)(_args(keys, [_item(FACTS)]))["results"]
    proof, output, signature = (b64decode(result[k]) for k in ("proof", "output", "signature"))
    assert bls_verify(keys[2], vrf_input(FACTS), proof)
    assert output == hashlib.sha256(proof).digest()
    assert ecdsa_verify(keys[3], fulfil_message(FACTS, output, proof), signature)


@pytest.mark.parametrize("purpose", [Purpose.RANDOMNESS, Purpose.MESSAGE, Purpose.ORACLE])
def test_raw_signing_with_a_randomness_key_is_refused(
    keystore: KeyStore, keys: tuple[str, str, bytes, bytes], purpose: Purpose
) -> None:
    for key_id, fmt in ((keys[0], SignatureFormat.BLS), (keys[1], SignatureFormat.ECDSA_SHA256)):
        with pytest.raises(PolicyDenied, match="sign only through their enclave operation"):
            keystore.sign(key_id, [bytes(32)], tenant=PLATFORM_KEY_OWNER, purpose=purpose, fmt=fmt)


def test_the_wire_sign_operations_refuse_randomness_keys(
    keystore: KeyStore, sealer: Sealer, keys: tuple[str, str, bytes, bytes], tmp_path: Path
) -> None:
    ops = EnclaveOperations(SimulationPlatform(tmp_path), sealer, keystore)
    base = {
        "key_id": keys[1],
        "tenant": PLATFORM_KEY_OWNER,
        "purpose": "randomness",
        "format": "ecdsa-sha256",
    }
    for op, extra in (
        ("sign", {"message": b64encode(bytes(32))}),
        ("sign_batch", {"messages": [b64encode(bytes(32))]}),
    ):
        with pytest.raises(PolicyDenied):
            ops.dispatch(op, Args({**base, **extra}))
    assert "results" in ops.dispatch("randomness_fulfil", _args(keys, [_item(FACTS)]))  # type: ignore[operator]


def test_refusals(keystore: KeyStore, keys: tuple[str, str, bytes, bytes]) -> None:
    op = RandomnessFulfilOp(keystore)
    with pytest.raises(InvalidKeyRequest):
        op(_args(keys, []))
    with pytest.raises(InvalidKeyRequest):
        op(_args(keys, [_item(FACTS)] * (MAX_SIGN_BATCH + 1)))
    with pytest.raises(PolicyDenied, match="another tenant"):
        op(_args(keys, [_item(FACTS)], tenant="acme"))
    with pytest.raises(InvalidKeyRequest, match="bls12-381"):
        op(_args((keys[1], keys[0], keys[3], keys[2]), [_item(FACTS)]))
    with pytest.raises(InvalidKeyRequest, match="seed"):
        op(_args(keys, [{**_item(FACTS), "seed": b64encode(bytes(31))}]))
    with pytest.raises(BadRequest):
        op(_args(keys, ["not an object"]))
    message_key = keystore.create(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.MESSAGE]))
    with pytest.raises(PolicyDenied, match="purpose randomness"):
        op(_args((keys[0], message_key.info.key_id, keys[2], keys[3]), [_item(FACTS)]))


def test_tenant_keys_sign_raw_as_before(keystore: KeyStore) -> None:
    key = keystore.create(KeyKind.SECP256R1, KeyPolicy.of("acme", [Purpose.MESSAGE])).info
    (signature,) = keystore.sign(
        key.key_id, [b"m"], tenant="acme", purpose=Purpose.MESSAGE, fmt=SignatureFormat.ECDSA_SHA256
    )
    assert ecdsa_verify(key.public_key, b"m", signature)
