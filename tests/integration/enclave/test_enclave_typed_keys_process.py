"""The keys this wave added (``webhooks``: Ed25519, ``randomness-evm``: secp256k1) against a real enclave
process with per-client tokens: neither the api nor the worker credential (nor the cli's raw platform
signing) gets a signature over bytes the host chose, gets the purpose onto a key of its own, or exports
the key; the worker gets only what the typed operation builds and checks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from enclave_process_fakes import PeerEnclave, running_enclave

from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.randomness_evm import EvmRandomnessFacts
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-typed-keys-0123",
    "worker": "worker-token-typed-keys-0",
    "cli": "cli-token-typed-keys-0123",
}
SUB = "sub_" + "ab" * 12
CHOSEN = b"bytes the host chose"
DIGEST = bytes(range(32))


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    extra = {"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""}
    with running_enclave("nsl-tk-", token="", extra=extra) as process:
        yield process


@pytest.fixture
async def clients(enclave: PeerEnclave) -> AsyncIterator[dict[str, EnclaveClient]]:
    made = {name: EnclaveClient(enclave.socket_path, token, timeout=5) for name, token in TOKENS.items()}
    yield made
    for client in made.values():
        await client.close()


async def _platform_key(worker: EnclaveClient, kind: KeyKind, purpose: Purpose) -> SealedKey:
    return await worker.create_key(kind, KeyPolicy.of(PLATFORM_KEY_OWNER, [purpose]))


async def test_the_webhook_key_signs_only_fresh_webhooks_for_the_worker(
    clients: dict[str, EnclaveClient],
) -> None:
    api, worker, cli = clients["api"], clients["worker"], clients["cli"]
    key = (await _platform_key(worker, KeyKind.ED25519, Purpose.WEBHOOKS)).info.key_id
    now = int(time.time())
    body = json.dumps({"id": 7, "subscription": SUB}).encode()
    assert (
        len(
            await worker.webhook_sign(
                key, tenant=PLATFORM_KEY_OWNER, subscription=SUB, msg_id="7", timestamp=now, body=body
            )
        )
        == 64
    )
    for client in (api, cli):  # only the worker asks for webhook signatures
        with pytest.raises(OperationNotAllowed):
            await client.webhook_sign(
                key, tenant=PLATFORM_KEY_OWNER, subscription=SUB, msg_id="7", timestamp=now, body=body
            )
    for chosen in (CHOSEN, json.dumps({"id": 7, "subscription": "sub_" + "cd" * 12}).encode()):
        with pytest.raises(InvalidKeyRequest):  # not a webhook of the named subscription
            await worker.webhook_sign(
                key, tenant=PLATFORM_KEY_OWNER, subscription=SUB, msg_id="7", timestamp=now, body=chosen
            )
    with pytest.raises(InvalidKeyRequest):  # signed now for use later
        await worker.webhook_sign(
            key, tenant=PLATFORM_KEY_OWNER, subscription=SUB, msg_id="7", timestamp=now + 3600, body=body
        )
    with pytest.raises(OperationNotAllowed):  # the worker has no raw signing at all
        await worker.sign(
            key, CHOSEN, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.WEBHOOKS, fmt=SignatureFormat.ED25519
        )
    with pytest.raises(OperationNotAllowed):  # the api signs raw with tenant keys only
        await api.sign(
            key, CHOSEN, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.WEBHOOKS, fmt=SignatureFormat.ED25519
        )
    with pytest.raises(PolicyDenied):  # the cli signs raw with platform keys, never a typed-only one
        await cli.sign(
            key, CHOSEN, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.WEBHOOKS, fmt=SignatureFormat.ED25519
        )
    with pytest.raises(OperationNotAllowed):  # no tenant key takes the purpose
        await api.create_key(KeyKind.ED25519, KeyPolicy.of("acme", [Purpose.WEBHOOKS]))


async def test_the_evm_randomness_key_signs_only_what_the_enclave_builds(
    clients: dict[str, EnclaveClient],
) -> None:
    api, worker, cli = clients["api"], clients["worker"], clients["cli"]
    bls = (await _platform_key(worker, KeyKind.BLS12_381, Purpose.RANDOMNESS)).info.key_id
    evm = (await _platform_key(worker, KeyKind.SECP256K1, Purpose.RANDOMNESS_EVM)).info.key_id
    facts = EvmRandomnessFacts(
        chain_id=31337, contract=bytes(20), request_id=1, consumer=bytes(range(20)), seed=bytes(32)
    )
    [answer] = await worker.randomness_evm_fulfil(
        bls_key_id=bls, evm_key_id=evm, items=[facts], tenant=PLATFORM_KEY_OWNER
    )
    assert len(answer.signature) == 65
    with pytest.raises(OperationNotAllowed):
        await api.randomness_evm_fulfil(
            bls_key_id=bls, evm_key_id=evm, items=[facts], tenant=PLATFORM_KEY_OWNER
        )
    for fmt, message in ((SignatureFormat.EVM_DIGEST, DIGEST), (SignatureFormat.EVM_RECOVERABLE, CHOSEN)):
        with pytest.raises(PolicyDenied):  # a digest or message the host chose: never, even for the cli
            await cli.sign(evm, message, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.RANDOMNESS_EVM, fmt=fmt)
        with pytest.raises(OperationNotAllowed):
            await api.sign(evm, message, tenant=PLATFORM_KEY_OWNER, purpose=Purpose.RANDOMNESS_EVM, fmt=fmt)
    with pytest.raises(OperationNotAllowed):
        await api.create_key(KeyKind.SECP256K1, KeyPolicy.of("acme", [Purpose.RANDOMNESS_EVM]))


async def test_neither_the_api_nor_the_worker_exports_the_new_keys(clients: dict[str, EnclaveClient]) -> None:
    worker = clients["worker"]
    sealed = [
        await _platform_key(worker, KeyKind.ED25519, Purpose.WEBHOOKS),
        await _platform_key(worker, KeyKind.SECP256K1, Purpose.RANDOMNESS_EVM),
    ]
    records = [(s.info.key_id, s.info.version, s.sealed_record) for s in sealed]
    offer = await clients[
        "cli"
    ].migration_offer()  # a real offer: the refusal is the client's, not the offer's
    for name in ("api", "worker"):
        with pytest.raises(OperationNotAllowed):
            await clients[name].migration_export(offer, records)
