"""The compromised host against the randomness keys, with the real enclave process.

A host process holding the enclave token (the legacy single token here: every operation allowed) tries to
make the platform's randomness keys sign a message of its choosing. The enclave refuses every raw
signing operation (``sign``, ``sign_batch``, ``sign_batch_packed``) for keys with purpose ``randomness``,
whatever purpose or format is named; the only use left is ``randomness_fulfil``, which builds the V2
messages itself from chain facts and returns the one answer the contract accepts for those facts.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from enclave_process_fakes import EnclaveProcess, RecordStore

from neo_service_layer.enclave.wire.encoding import b64decode, b64encode, pack_blobs
from neo_service_layer.enclave.wire.keys import (
    MAX_SIGN_BATCH,
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.transport import EnclaveTransport
from neo_service_layer.services.randomness import rules as randomness
from neo_service_layer.services.randomness.adapters.proofs import bls_verify, ecdsa_verify, verify_randomness

RANDOMNESS_POLICY = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.RANDOMNESS])
MAGIC = 860833102  # mainnet
CONTRACT = bytes(range(1, 21))
CONSUMER = bytes(range(101, 121))
#: what a compromised host would like signed: e.g. a fulfil message for an output it chose
CHOSEN = hashlib.sha256(b"the output I want").digest()


class Host:
    """The host side: the real client, and the raw transport a compromised host could use directly."""

    def __init__(self, client: EnclaveClient, transport: EnclaveTransport) -> None:
        self.client = client
        self.transport = transport
        self.bls: SealedKey
        self.ecdsa: SealedKey


@pytest_asyncio.fixture
async def host(enclave: EnclaveProcess, records: RecordStore) -> AsyncIterator[Host]:
    client = EnclaveClient(enclave.socket_path, enclave.token, loader=records.load, timeout=5)
    transport = EnclaveTransport(str(enclave.socket_path), enclave.token, pool_size=1, timeout=5)
    h = Host(client, transport)
    h.bls = await client.create_key(KeyKind.BLS12_381, RANDOMNESS_POLICY)
    h.ecdsa = await client.create_key(KeyKind.SECP256R1, RANDOMNESS_POLICY)
    records.put(h.bls)
    records.put(h.ecdsa)
    try:
        yield h
    finally:
        await transport.close()
        await client.close()


def facts(request_id: int = 7, seed: bytes = bytes(range(32))) -> randomness.RandomnessFacts:
    return randomness.RandomnessFacts(MAGIC, CONTRACT, request_id, CONSUMER, seed)


def _raw_sign_args(key: SealedKey, purpose: Purpose, fmt: SignatureFormat) -> dict[str, object]:
    return {
        "key_id": key.info.key_id,
        "tenant": PLATFORM_KEY_OWNER,
        "purpose": purpose.value,
        "format": fmt.value,
        "version": None,
        "network_magic": None,
    }


async def test_randomness_keys_refuse_raw_signing_of_a_chosen_message(host: Host) -> None:
    """Neither key signs an arbitrary 32-byte message through sign / sign_batch / sign_batch_packed."""
    attempts = [
        (host.bls, Purpose.RANDOMNESS, SignatureFormat.BLS),
        (host.ecdsa, Purpose.RANDOMNESS, SignatureFormat.ECDSA_SHA256),
        (host.ecdsa, Purpose.RANDOMNESS, SignatureFormat.ECDSA_KECCAK256),
        (host.ecdsa, Purpose.MESSAGE, SignatureFormat.ECDSA_SHA256),  # naming another purpose: same
    ]
    for key, purpose, fmt in attempts:
        with pytest.raises(PolicyDenied, match="randomness sign only through their enclave operation"):
            await host.client.sign(
                key.info.key_id, CHOSEN, tenant=PLATFORM_KEY_OWNER, purpose=purpose, fmt=fmt
            )
        with pytest.raises(PolicyDenied, match="randomness sign only through"):
            await host.client.sign_batch(  # the client sends sign_batch_packed
                key.info.key_id, [CHOSEN, os.urandom(32)], tenant=PLATFORM_KEY_OWNER, purpose=purpose, fmt=fmt
            )
        # the wire ops themselves, as a host bypassing the client would call them
        args = _raw_sign_args(key, purpose, fmt)
        for op, messages in (
            ("sign", {"message": b64encode(CHOSEN)}),
            ("sign_batch", {"messages": [b64encode(CHOSEN)]}),
            ("sign_batch_packed", {"messages": b64encode(pack_blobs([CHOSEN]))}),
        ):
            with pytest.raises(PolicyDenied, match="sign only through their enclave operation"):
                await host.transport.call(op, {**args, **messages}, idempotent=True)


async def test_randomness_fulfil_returns_the_answer_the_contract_accepts(host: Host) -> None:
    items = [facts(i, hashlib.sha256(bytes([i])).digest()) for i in range(1, 6)]
    answers = await host.client.randomness_fulfil(
        bls_key_id=host.bls.info.key_id,
        ecdsa_key_id=host.ecdsa.info.key_id,
        items=items,
        tenant=PLATFORM_KEY_OWNER,
    )
    assert len(answers) == len(items)
    for f, a in zip(items, answers, strict=True):
        # the contract's checks: output = SHA-256(proof), ECDSA over the V2 fulfil message of its own facts
        assert a.output == hashlib.sha256(a.proof).digest()
        assert ecdsa_verify(
            host.ecdsa.info.public_key, randomness.fulfil_message(f, a.output, a.proof), a.signature
        )
        assert bls_verify(host.bls.info.public_key, randomness.vrf_input(f), a.proof)
        verdict = verify_randomness(
            facts=f,
            proof=a.proof,
            output=a.output,
            bls_public_key=host.bls.info.public_key,
            words=randomness.derive_words(a.output, 3),
            signature=a.signature,
            public_key=host.ecdsa.info.public_key,
        )
        assert verdict.ok
        # bound to its facts: the same answer does not verify for another consumer or network
        other = randomness.RandomnessFacts(f.magic, f.contract, f.request_id, bytes(20), f.seed)
        assert not ecdsa_verify(
            host.ecdsa.info.public_key, randomness.fulfil_message(other, a.output, a.proof), a.signature
        )
    # unique: asking again gives the same output (the host cannot grind)
    again = await host.client.randomness_fulfil(
        bls_key_id=host.bls.info.key_id,
        ecdsa_key_id=host.ecdsa.info.key_id,
        items=items[:1],
        tenant=PLATFORM_KEY_OWNER,
    )
    assert again[0].output == answers[0].output


async def test_randomness_fulfil_takes_no_message_or_output_from_the_host(host: Host) -> None:
    """Fields a host adds (a message, an output, a proof) change nothing: the enclave builds them."""
    f = facts()
    item = {
        "magic": f.magic,
        "contract": b64encode(f.contract),
        "request_id": f.request_id,
        "consumer": b64encode(f.consumer),
        "seed": b64encode(f.seed),
    }
    base = {
        "tenant": PLATFORM_KEY_OWNER,
        "bls_key_id": host.bls.info.key_id,
        "ecdsa_key_id": host.ecdsa.info.key_id,
    }
    honest = await host.transport.call("randomness_fulfil", {**base, "items": [item]}, idempotent=True)
    forged_item = {
        **item,
        "output": b64encode(CHOSEN),
        "message": b64encode(CHOSEN),
        "proof": b64encode(bytes(96)),
    }
    forged = await host.transport.call(
        "randomness_fulfil", {**base, "items": [forged_item], "message": b64encode(CHOSEN)}, idempotent=True
    )
    assert forged == honest
    assert b64decode(honest["results"][0]["output"]) != CHOSEN


async def test_randomness_fulfil_refusals(host: Host, records: RecordStore) -> None:
    client = host.client
    bls_id, ecdsa_id = host.bls.info.key_id, host.ecdsa.info.key_id
    with pytest.raises(InvalidKeyRequest, match="between 1 and"):
        await client.randomness_fulfil(
            bls_key_id=bls_id, ecdsa_key_id=ecdsa_id, items=[], tenant=PLATFORM_KEY_OWNER
        )
    with pytest.raises(InvalidKeyRequest, match="between 1 and"):
        await client.randomness_fulfil(
            bls_key_id=bls_id,
            ecdsa_key_id=ecdsa_id,
            items=[facts()] * (MAX_SIGN_BATCH + 1),
            tenant=PLATFORM_KEY_OWNER,
        )
    with pytest.raises(PolicyDenied, match="another tenant"):
        await client.randomness_fulfil(
            bls_key_id=bls_id, ecdsa_key_id=ecdsa_id, items=[facts()], tenant="acme"
        )
    with pytest.raises(InvalidKeyRequest, match="bls12-381"):
        await client.randomness_fulfil(
            bls_key_id=ecdsa_id, ecdsa_key_id=bls_id, items=[facts()], tenant=PLATFORM_KEY_OWNER
        )
    # a key without purpose randomness cannot be used by the operation
    other = await client.create_key(KeyKind.SECP256R1, KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.MESSAGE]))
    records.put(other)
    with pytest.raises(PolicyDenied, match="purpose randomness"):
        await client.randomness_fulfil(
            bls_key_id=bls_id, ecdsa_key_id=other.info.key_id, items=[facts()], tenant=PLATFORM_KEY_OWNER
        )
    # malformed facts
    bad = {
        "magic": 2**32,
        "contract": b64encode(CONTRACT),
        "request_id": 1,
        "consumer": b64encode(CONSUMER),
        "seed": b64encode(bytes(32)),
    }
    with pytest.raises(InvalidKeyRequest, match="network magic"):
        await host.transport.call(
            "randomness_fulfil",
            {"tenant": PLATFORM_KEY_OWNER, "bls_key_id": bls_id, "ecdsa_key_id": ecdsa_id, "items": [bad]},
            idempotent=True,
        )


async def test_tenant_keys_still_sign_raw(host: Host) -> None:
    """Raw signing of tenant keys (the keys API) is unaffected, BLS included."""
    policy = KeyPolicy.of("acme", [Purpose.MESSAGE])
    p256 = await host.client.create_key(KeyKind.SECP256R1, policy)
    signature = await host.client.sign(
        p256.info.key_id, CHOSEN, tenant="acme", purpose=Purpose.MESSAGE, fmt=SignatureFormat.ECDSA_SHA256
    )
    assert ecdsa_verify(p256.info.public_key, CHOSEN, signature)
    g2 = await host.client.create_key(KeyKind.BLS12_381, policy)
    (proof,) = await host.client.sign_batch(
        g2.info.key_id, [CHOSEN], tenant="acme", purpose=Purpose.MESSAGE, fmt=SignatureFormat.BLS
    )
    assert bls_verify(g2.info.public_key, CHOSEN, proof)
