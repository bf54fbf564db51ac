"""Key destruction against a real enclave process: the worker's token destroys only what the tenant disabled.

The enclave runs with per-client tokens and a destruction grace of ``GRACE`` seconds (an enclave
setting, ``NSL_KEY_DESTRUCTION_GRACE_SECONDS``; 7 days by default, never shorter in production).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from enclave_process_fakes import PeerEnclave, RecordStore

from neo_service_layer.enclave.wire.keys import (
    DestructionRefused,
    KeyDisabled,
    KeyKind,
    KeyPolicy,
    KeyStatus,
    Purpose,
    SealedKey,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

TOKENS = {
    "api": "api-token-destruction-0123",
    "worker": "worker-token-destruction-0",
    "cli": "cli-token-destruction-0123",
}
TENANT = "acme"
GRACE = 1.5


@pytest.fixture
def enclave() -> Iterator[PeerEnclave]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-kd-"))  # short: Unix socket paths are limited
    process = PeerEnclave(
        directory,
        directory / "e.sock",
        token="",
        extra={
            "NSL_ENCLAVE_CLIENTS": json.dumps(TOKENS),
            "NSL_ENCLAVE_TOKEN": "",
            "NSL_KEY_DESTRUCTION_GRACE_SECONDS": str(GRACE),
        },
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
async def clients(enclave: PeerEnclave) -> AsyncIterator[tuple[EnclaveClient, EnclaveClient, RecordStore]]:
    """The api's and the worker's clients, both re-provisioning keys from the same record store."""
    records = RecordStore()
    api = EnclaveClient(enclave.socket_path, TOKENS["api"], loader=records.load, timeout=5)
    worker = EnclaveClient(enclave.socket_path, TOKENS["worker"], loader=records.load, timeout=5)
    yield api, worker, records
    await api.close()
    await worker.close()


async def _signs(api: EnclaveClient, key: SealedKey) -> bytes:
    return await api.sign(
        key.info.key_id, b"still mine", tenant=TENANT, purpose=Purpose.MESSAGE, fmt=SignatureFormat.ED25519
    )


async def test_the_worker_cannot_destroy_a_key_its_tenant_has_not_disabled(
    clients: tuple[EnclaveClient, EnclaveClient, RecordStore],
) -> None:
    api, worker, records = clients
    key = await api.create_key(KeyKind.ED25519, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))
    records.put(key)
    await asyncio.sleep(GRACE + 0.2)  # older than the grace, but never disabled
    with pytest.raises(DestructionRefused, match="not disabled"):
        await worker.destroy(key.info.key_id, tenant=TENANT)
    assert len(await _signs(api, key)) == 64  # the key is untouched

    # disabled, then enabled again by its tenant (a cancelled destruction): refused again
    for sealed in await api.disable(key.info.key_id, tenant=TENANT):
        records.put(sealed)
    with pytest.raises(DestructionRefused, match=r"disabled \d+ s ago"):  # within the grace
        await worker.destroy(key.info.key_id, tenant=TENANT)
    [enabled] = await api.enable(key.info.key_id, tenant=TENANT)
    assert enabled.info.status is KeyStatus.ACTIVE
    records.put(enabled)
    await asyncio.sleep(GRACE + 0.2)
    with pytest.raises(DestructionRefused, match="not disabled"):
        await worker.destroy(key.info.key_id, tenant=TENANT)
    assert len(await _signs(api, key)) == 64


async def test_the_worker_destroys_a_disabled_key_after_the_grace_even_across_a_restart(
    enclave: PeerEnclave, clients: tuple[EnclaveClient, EnclaveClient, RecordStore]
) -> None:
    api, worker, records = clients
    key = await api.create_key(KeyKind.ED25519, KeyPolicy.of(TENANT, [Purpose.MESSAGE]))
    records.put(key)
    for sealed in await api.disable(key.info.key_id, tenant=TENANT):
        records.put(sealed)
    enclave.kill()  # the disable (and its time) is in the enclave's sealed state file, not in memory
    enclave.start()
    await asyncio.sleep(GRACE + 0.2)
    await worker.destroy(key.info.key_id, tenant=TENANT)  # refused "not disabled" had it been forgotten
    with pytest.raises(KeyDisabled, match="destroyed"):  # an old record coming back is refused for good
        await api.load_key(key.info.key_id, key.sealed_record)
