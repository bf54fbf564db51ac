"""Batches on the wire: the packed form of ``sign_batch``, and the client's fallback for older enclaves."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from neo_service_layer.enclave.handlers import EnclaveOperations, Result
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.platforms import SimulationPlatform
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.server import EnclaveServer
from neo_service_layer.enclave.wire.encoding import b64encode, pack_blobs, unpack_blobs
from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, PolicyDenied, Purpose, SignatureFormat
from neo_service_layer.enclave.wire.protocol import Args, BadRequest, UnknownOp
from neo_service_layer.kernel.enclave_client.client import EnclaveClient

POLICY = KeyPolicy.of("acme", [Purpose.ORACLE])


@pytest.mark.parametrize("items", [[], [b""], [b"a", b"", os.urandom(70_000)], [os.urandom(32)] * 100])
def test_pack_roundtrip(items: list[bytes]) -> None:
    assert unpack_blobs(pack_blobs(items)) == items


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x00\x00\x02a", pack_blobs([b"ab"]) + b"\x00\x00"])
def test_truncated_packs_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"truncated|longer"):
        unpack_blobs(data)
    with pytest.raises(BadRequest):
        Args({"messages": b64encode(data)}).packed_blobs("messages")


class _Operations(EnclaveOperations):
    """The real operations, recording each op; ``packed=False`` behaves like an enclave from before
    ``sign_batch_packed``."""

    def __init__(self, tmp_path: Path, sealer: Sealer, keys: KeyStore, *, packed: bool) -> None:
        super().__init__(SimulationPlatform(tmp_path), sealer, keys)
        self.packed = packed
        self.ops: list[str] = []

    def dispatch(self, op: str, args: Args) -> Result | Awaitable[Result]:
        self.ops.append(op)
        if op == "sign_batch_packed" and not self.packed:
            raise UnknownOp(f"unknown op {op!r}")
        return super().dispatch(op, args)


def _verify(public: bytes, raw: bytes, data: bytes) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("packed", "expected_ops"),
    [
        (True, ["sign_batch_packed", "sign_batch_packed"]),
        (False, ["sign_batch_packed", "sign_batch", "sign_batch"]),  # asks once, then lists of strings
    ],
)
async def test_client_signs_batches_with_either_enclave(
    tmp_path: Path, sealer: Sealer, keystore: KeyStore, packed: bool, expected_ops: list[str]
) -> None:
    operations = _Operations(tmp_path, sealer, keystore, packed=packed)
    info = keystore.create(KeyKind.SECP256R1, POLICY).info
    server = EnclaveServer(operations, b"token", tmp_path / "e.sock")
    await server.start()
    client = EnclaveClient(tmp_path / "e.sock", "token", timeout=5)
    try:
        for count in (100, 3):
            messages = [os.urandom(32) for _ in range(count)]
            signatures = await client.sign_batch(
                info.key_id, messages, tenant="acme", purpose=Purpose.ORACLE, fmt=SignatureFormat.ECDSA_SHA256
            )
            assert len(signatures) == count
            for message, signature in zip(messages, signatures, strict=True):
                _verify(info.public_key, signature, message)
        assert operations.ops == expected_ops
        with pytest.raises(PolicyDenied):  # the enclave's policy checks apply to both forms
            await client.sign_batch(
                info.key_id, [b"m"], tenant="evil", purpose=Purpose.ORACLE, fmt=SignatureFormat.ECDSA_SHA256
            )
    finally:
        await client.close()
        await server.close()
