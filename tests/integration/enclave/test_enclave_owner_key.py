"""The contracts' development owner key (purpose ``contract-owner``) against a real enclave process: only
the ``cli`` token signs with it; the worker (the hot sender's process) and the api never do."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from enclave_process_fakes import PeerEnclave

from neo_service_layer.enclave.wire.keys import (
    PLATFORM_KEY_OWNER,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-owner-key-0123",
    "worker": "worker-token-owner-key-01",
    "cli": "cli-token-owner-key-0123",
}
MAGIC = 860833102
TX_HASH = bytes(range(32))


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-ow-"))  # short: Unix socket paths are limited
    process = PeerEnclave(
        directory,
        directory / "e.sock",
        token="",
        extra={"NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS), "NSL_ENCLAVE_TOKEN": ""},
    )
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def clients(enclave: PeerEnclave) -> AsyncIterator[dict[str, EnclaveClient]]:
    made = {name: EnclaveClient(enclave.socket_path, token, timeout=5) for name, token in TOKENS.items()}
    yield made
    for client in made.values():
        await client.close()


@pytest.fixture
async def owner_key(clients: dict[str, EnclaveClient]) -> SealedKey:
    """The owner key as ``nsl chain up`` creates it (``service_keys.ensure_owner``, cli token)."""
    policy = KeyPolicy.of(PLATFORM_KEY_OWNER, [Purpose.CONTRACT_OWNER])
    return await clients["cli"].create_key(KeyKind.SECP256R1, policy)


async def test_only_the_cli_signs_a_transaction_as_the_contracts_owner(
    clients: dict[str, EnclaveClient], owner_key: SealedKey
) -> None:
    key_id = owner_key.info.key_id
    signature = await clients["cli"].sign(
        key_id,
        TX_HASH,
        tenant=PLATFORM_KEY_OWNER,
        purpose=Purpose.CONTRACT_OWNER,
        fmt=SignatureFormat.NEO_TX,
        network_magic=MAGIC,
    )
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), owner_key.info.public_key)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public.verify(der, MAGIC.to_bytes(4, "little") + TX_HASH, ec.ECDSA(hashes.SHA256()))

    with pytest.raises(OperationNotAllowed, match="may not call"):
        await clients["worker"].sign(
            key_id,
            TX_HASH,
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.CONTRACT_OWNER,
            fmt=SignatureFormat.NEO_TX,
            network_magic=MAGIC,
        )
    with pytest.raises(OperationNotAllowed, match="may not call"):
        await clients["worker"].sign_batch(
            key_id,
            [TX_HASH],
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.CONTRACT_OWNER,
            fmt=SignatureFormat.ECDSA_SHA256,
        )
    with pytest.raises(OperationNotAllowed, match="platform keys"):
        await clients["api"].sign(
            key_id,
            TX_HASH,
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.CONTRACT_OWNER,
            fmt=SignatureFormat.ECDSA_SHA256,
        )


async def test_the_worker_cannot_reach_the_owner_key_under_another_purpose(
    clients: dict[str, EnclaveClient], owner_key: SealedKey
) -> None:
    """The worker has no raw signing at all, whatever purpose it names; for the cli the owner key's
    policy (``contract-owner`` only) refuses any other purpose."""
    key_id = owner_key.info.key_id
    with pytest.raises(PolicyDenied):
        await clients["worker"].sign(
            key_id,
            b"message",
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.MESSAGE,
            fmt=SignatureFormat.ECDSA_SHA256,
        )
    with pytest.raises(OperationNotAllowed, match="may not call"):
        await clients["worker"].sign(
            key_id,
            TX_HASH,
            tenant=PLATFORM_KEY_OWNER,
            purpose=Purpose.NEO_TX,
            fmt=SignatureFormat.NEO_TX,
            network_magic=MAGIC,
        )
