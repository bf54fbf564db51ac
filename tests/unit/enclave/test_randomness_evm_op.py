"""``randomness_evm_fulfil`` in the enclave (no process): the answer an EVM contract's ``ecrecover``
accepts, bound to chain id, contract, request, consumer and seed; the key signs nothing else."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from neo_service_layer.enclave.clients import API, CLI, WORKER, check_allowed
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.randomness_evm import EvmRandomnessFulfilOp
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    MAX_SIGN_BATCH,
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.randomness_evm import EvmRandomnessFacts, fulfil_preimage, vrf_input
from neo_service_layer.services.keys.rules import InvalidKeyInput, check_purposes
from neo_service_layer.services.randomness.adapters.keys import evm_address
from neo_service_layer.services.randomness.adapters.proofs import bls_verify

FACTS = EvmRandomnessFacts(
    47763, bytes(range(1, 21)), 7, bytes(range(101, 121)), hashlib.sha256(b"s").digest()
)


def _item(f: EvmRandomnessFacts) -> dict[str, Any]:
    return {
        "chain_id": f.chain_id,
        "contract": b64encode(f.contract),
        "request_id": f.request_id,
        "consumer": b64encode(f.consumer),
        "seed": b64encode(f.seed),
    }


class Keys:
    def __init__(self, keystore: KeyStore) -> None:
        bls = keystore.create(KeyKind.BLS12_381, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS])).info
        evm = keystore.create(
            KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS_EVM])
        ).info
        self.bls_id, self.bls_public = bls.key_id, bls.public_key
        self.evm_id, self.address = evm.key_id, evm_address(evm.public_key)


@pytest.fixture
def keys(keystore: KeyStore) -> Keys:
    return Keys(keystore)


def _fulfil(keystore: KeyStore, keys: Keys, facts: list[EvmRandomnessFacts], **over: Any) -> list[Any]:
    args = {
        "tenant": PLATFORM_KEY_OWNER,
        "bls_key_id": keys.bls_id,
        "evm_key_id": keys.evm_id,
        "items": [_item(f) for f in facts],
        **over,
    }
    results = EvmRandomnessFulfilOp(keystore)(Args(args))["results"]
    return [(b64decode(r["randomness"]), b64decode(r["proof"]), b64decode(r["signature"])) for r in results]


def _signer(facts: EvmRandomnessFacts, randomness: bytes, signature: bytes) -> str:
    """What ``ecrecover`` gives for the digest the contract rebuilds from ``facts``."""
    digest = keccak(fulfil_preimage(facts, randomness))
    return str(Account._recover_hash(digest, signature=signature))


def test_the_signature_recovers_to_the_keys_address(keystore: KeyStore, keys: Keys) -> None:
    ((randomness, proof, signature),) = _fulfil(keystore, keys, [FACTS])
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert (
        int.from_bytes(signature[32:64], "big")
        <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    )
    assert _signer(FACTS, randomness, signature) == keys.address
    # the randomness is the hash of a BLS proof over the request's VRF input: unique, so no grinding
    assert randomness == hashlib.sha256(proof).digest()
    assert bls_verify(keys.bls_public, vrf_input(FACTS), proof)
    assert _fulfil(keystore, keys, [FACTS])[0][0] == randomness


@pytest.mark.parametrize(
    "other",
    [
        replace(FACTS, chain_id=12227332),
        replace(FACTS, contract=bytes(20)),
        replace(FACTS, request_id=8),
        replace(FACTS, consumer=bytes(range(1, 21))),
        replace(FACTS, seed=bytes(32)),
    ],
    ids=["chain-id", "contract", "request", "consumer", "seed"],
)
def test_an_answer_for_other_facts_recovers_to_another_address(
    keystore: KeyStore, keys: Keys, other: EvmRandomnessFacts
) -> None:
    ((randomness, _, signature),) = _fulfil(keystore, keys, [FACTS])
    assert _signer(other, randomness, signature) != keys.address
    # and altered randomness under the right facts does not recover to the signer either
    assert _signer(FACTS, bytes(32), signature) != keys.address
    # the answer for those other facts is signed for them (and is another randomness: the VRF input
    # binds chain id, contract, request and seed; the consumer is bound by the signature only, as on N3)
    ((theirs, _, their_signature),) = _fulfil(keystore, keys, [other])
    assert (theirs == randomness) == (other.consumer != FACTS.consumer)
    assert their_signature != signature
    assert _signer(other, theirs, their_signature) == keys.address


def test_the_host_supplies_no_randomness_or_message(keystore: KeyStore, keys: Keys) -> None:
    honest = _fulfil(keystore, keys, [FACTS])
    forged_item = {**_item(FACTS), "randomness": b64encode(bytes(32)), "message": b64encode(b"x")}
    forged = EvmRandomnessFulfilOp(keystore)(
        Args(
            {
                "tenant": PLATFORM_KEY_OWNER,
                "bls_key_id": keys.bls_id,
                "evm_key_id": keys.evm_id,
                "items": [forged_item],
                "digest": b64encode(bytes(32)),
            }
        )
    )["results"]
    assert b64decode(forged[0]["randomness"]) == honest[0][0]


def test_the_evm_randomness_key_refuses_raw_signing(keystore: KeyStore, keys: Keys) -> None:
    for fmt in (SignatureFormat.EVM_DIGEST, SignatureFormat.EVM_RECOVERABLE, SignatureFormat.ECDSA_KECCAK256):
        with pytest.raises(PolicyDenied, match="randomness-evm sign only through their enclave operation"):
            keystore.sign(
                keys.evm_id, [bytes(32)], tenant=PLATFORM_KEY_OWNER, purpose=Purpose.EVM_TX, fmt=fmt
            )


def test_refusals(keystore: KeyStore, keys: Keys) -> None:
    with pytest.raises(InvalidKeyRequest, match="between 1 and"):
        _fulfil(keystore, keys, [])
    with pytest.raises(InvalidKeyRequest, match="between 1 and"):
        _fulfil(keystore, keys, [FACTS] * (MAX_SIGN_BATCH + 1))
    with pytest.raises(PolicyDenied, match="another tenant"):
        _fulfil(keystore, keys, [FACTS], tenant="acme")
    with pytest.raises(InvalidKeyRequest, match="secp256k1"):
        _fulfil(keystore, keys, [FACTS], evm_key_id=keys.bls_id)
    # a secp256k1 key of another purpose (an EVM transaction key) cannot sign randomness answers
    tx_key = keystore.create(KeyKind.SECP256K1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.EVM_TX])).info
    with pytest.raises(PolicyDenied, match="randomness-evm"):
        _fulfil(keystore, keys, [FACTS], evm_key_id=tx_key.key_id)
    for bad in ({"chain_id": 0}, {"request_id": 2**256}, {"consumer": b64encode(bytes(19))}):
        with pytest.raises(InvalidKeyRequest):
            EvmRandomnessFulfilOp(keystore)(
                Args(
                    {
                        "tenant": PLATFORM_KEY_OWNER,
                        "bls_key_id": keys.bls_id,
                        "evm_key_id": keys.evm_id,
                        "items": [{**_item(FACTS), **bad}],
                    }
                )
            )


def test_only_the_worker_may_ask_and_no_tenant_key_gets_the_purpose() -> None:
    args = Args({"tenant": PLATFORM_KEY_OWNER, "items": [_item(FACTS)]})
    check_allowed(WORKER, "randomness_evm_fulfil", args)
    for client in (API, CLI):
        with pytest.raises(OperationNotAllowed):
            check_allowed(client, "randomness_evm_fulfil", args)
    with pytest.raises(InvalidKeyInput, match="reserved"):
        check_purposes(KeyKind.SECP256K1, frozenset({Purpose.MESSAGE, Purpose.RANDOMNESS_EVM}))
    policy = {"tenant": "ten_a", "purposes": ["message", "randomness-evm"]}
    with pytest.raises(OperationNotAllowed, match="only platform keys"):
        check_allowed(API, "create_key", Args({"kind": "secp256k1", "policy": policy}))
