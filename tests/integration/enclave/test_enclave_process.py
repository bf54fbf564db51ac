"""The enclave as a real process, driven through the real client over its Unix socket."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import struct
import subprocess
import sys

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from enclave_process_fakes import EnclaveProcess, RecordStore

from neo_service_layer.enclave import bls
from neo_service_layer.enclave.attestation import verify_report
from neo_service_layer.enclave.platforms import simulation_measurement
from neo_service_layer.enclave.wire.keys import (
    DestructionRefused,
    KeyDisabled,
    KeyKind,
    KeyNotLoaded,
    KeyPolicy,
    KeyStatus,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient, EnclaveRequestRejected
from neo_service_layer.kernel.enclave_client.ports import Enclave, EnclaveUnavailable

POLICY = KeyPolicy.of("acme", [Purpose.NEO_TX, Purpose.ORACLE, Purpose.MESSAGE])
TX_HASH = bytes(range(32))


def _client(enclave: EnclaveProcess, records: RecordStore | None = None) -> EnclaveClient:
    return EnclaveClient(
        enclave.socket_path, enclave.token, loader=records.load if records else None, timeout=5
    )


def _verify_p256(public: bytes, raw: bytes, data: bytes) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, data, ec.ECDSA(hashes.SHA256()))


def test_socket_is_private(enclave: EnclaveProcess) -> None:
    mode = enclave.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


async def test_every_operation(enclave: EnclaveProcess, records: RecordStore) -> None:
    client = _client(enclave, records)
    port: Enclave = client
    status = await port.status()
    assert (status.platform, status.mode, status.loaded_keys) == ("simulation", "simulation", 0)

    p256 = await port.create_key(KeyKind.SECP256R1, POLICY)
    records.put(p256)
    key_id = p256.info.key_id
    assert (await port.public_key(key_id)) == p256.info
    sig = await port.sign(
        key_id, TX_HASH, tenant="acme", purpose=Purpose.NEO_TX, fmt=SignatureFormat.NEO_TX, network_magic=42
    )
    _verify_p256(p256.info.public_key, sig, struct.pack("<I", 42) + TX_HASH)
    messages = [os.urandom(32) for _ in range(100)]
    batch = await port.sign_batch(
        key_id, messages, tenant="acme", purpose=Purpose.ORACLE, fmt=SignatureFormat.ECDSA_SHA256
    )
    for message, signature in zip(messages, batch, strict=True):
        _verify_p256(p256.info.public_key, signature, message)
    with pytest.raises(PolicyDenied):
        await port.sign(key_id, b"x", tenant="evil", purpose=Purpose.ORACLE, fmt=SignatureFormat.ECDSA_SHA256)

    k1 = await port.create_key(KeyKind.SECP256K1, POLICY)
    evm = await port.sign(
        k1.info.key_id, b"hi", tenant="acme", purpose=Purpose.ORACLE, fmt=SignatureFormat.EVM_RECOVERABLE
    )
    from Crypto.Hash import keccak

    digest = keccak.new(digest_bits=256, data=b"hi").digest()
    recovered = coincurve.PublicKey.from_signature_and_message(
        evm[:64] + bytes([evm[64] - 27]), digest, hasher=None
    )
    assert recovered.format(compressed=True) == k1.info.public_key

    bls_key = await port.create_key(KeyKind.BLS12_381, POLICY)
    bls_sig = await port.sign(
        bls_key.info.key_id, b"round 7", tenant="acme", purpose=Purpose.MESSAGE, fmt=SignatureFormat.BLS
    )
    assert bls.verify(bls_key.info.public_key, b"round 7", bls_sig)
    assert len(port.bls_message_point(b"round 7")) == 96

    ed = await port.create_key(KeyKind.ED25519, POLICY)
    assert (
        len(
            await port.sign(
                ed.info.key_id, b"m", tenant="acme", purpose=Purpose.ORACLE, fmt=SignatureFormat.ED25519
            )
        )
        == 64
    )

    rotated = await port.rotate(key_id, tenant="acme")
    records.put(rotated)
    assert rotated.info.version == 2
    assert (await port.public_key(key_id)).public_key == rotated.info.public_key
    assert (await port.public_key(key_id, 1)).public_key == p256.info.public_key

    blob = await port.seal("acme", "webhook-secret", b"plaintext")
    assert await port.unseal("acme", "webhook-secret", blob) == b"plaintext"
    with pytest.raises(SealedDataInvalid):
        await port.unseal("other", "webhook-secret", blob)
    assert len(await port.random(48)) == 48

    nonce = os.urandom(32)
    report = await port.attest(nonce, [key_id, bls_key.info.key_id])
    platform_key = bytes.fromhex((enclave.data_dir / "enclave" / "platform.pub").read_text().strip())
    verdict = verify_report(
        report,
        nonce=nonce,
        allowed_measurements=[simulation_measurement()],
        accept_simulation=True,
        simulation_platform_keys=[platform_key],
        expected_public_keys=[rotated.info.public_key, bls_key.info.public_key],
    )
    assert verdict.ok, verdict.problems

    disabled = await port.disable(ed.info.key_id, tenant="acme")
    assert [s.info.status for s in disabled] == [KeyStatus.DISABLED]
    with pytest.raises(KeyDisabled):
        await port.sign(
            ed.info.key_id, b"m", tenant="acme", purpose=Purpose.ORACLE, fmt=SignatureFormat.ED25519
        )
    with pytest.raises(DestructionRefused):  # its tenant never disabled it
        await port.destroy(k1.info.key_id, tenant="acme")
    with pytest.raises(DestructionRefused):  # disabled now, but not 7 days ago
        await port.destroy(ed.info.key_id, tenant="acme")
    # (destruction after the grace: test_enclave_key_destruction_process.py)
    assert (await port.status()).loaded_keys == 5  # p256 v1+v2, k1, bls, ed25519
    await client.close()


async def _raw_exchange(enclave: EnclaveProcess, data: bytes) -> dict[str, object] | None:
    """Send raw bytes, half-close, and read one response frame if the enclave sends one."""
    reader, writer = await asyncio.open_unix_connection(str(enclave.socket_path))
    try:
        writer.write(data)
        await writer.drain()
        writer.write_eof()
        async with asyncio.timeout(10):
            header = await reader.read(4)
            if len(header) < 4:
                return None
            body = await reader.readexactly(struct.unpack(">I", header)[0])
        answer: dict[str, object] = json.loads(body)
        return answer
    finally:
        writer.close()


def _frame(message: object) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def _request(enclave: EnclaveProcess, **fields: object) -> bytes:
    message: dict[str, object] = {"v": 1, "id": 1, "token": enclave.token, "op": "random", "args": {"n": 4}}
    message.update(fields)
    return _frame(message)


async def test_malformed_input_gets_typed_errors_and_the_enclave_keeps_serving(
    enclave: EnclaveProcess,
) -> None:
    client = _client(enclave)
    cases: list[tuple[bytes, str | None]] = [
        (b"\x00\x00", None),  # truncated header
        (struct.pack(">I", 100) + b"{}", None),  # truncated body
        (struct.pack(">I", 0xFFFFFFFF), "frame_too_large"),
        (struct.pack(">I", 5) + b"\xff\x00garbage"[:5], "bad_json"),
        (_frame("just a string"), "bad_json"),
        (_request(enclave, token="wrong"), "unauthorized"),
        (_request(enclave, v=99), "unsupported_version"),
        (_request(enclave, op="export_key"), "unknown_op"),
        (_request(enclave, args={"n": "four"}), "bad_request"),
        (_request(enclave, args={}), "bad_request"),
        (_request(enclave, op="sign", args={"key_id": 5}), "bad_request"),
        (_request(enclave, op="sign", args={"key_id": "k", "message": "***", "tenant": "t"}), "bad_request"),
        (
            _request(enclave, op="load_key", args={"key_id": "k_x", "sealed_record": "QUFBQQ=="}),
            "unseal_failed",
        ),
        (_request(enclave, op="create_key", args={"kind": "rsa", "policy": {}}), "invalid_argument"),
        (os.urandom(3000), None),
    ]
    for data, code in cases:
        answer = await _raw_exchange(enclave, data)
        if code is None:
            assert answer is None or answer["ok"] is False
        else:
            assert answer is not None
            assert answer["ok"] is False
            error = answer["error"]
            assert isinstance(error, dict)
            assert error["code"] == code, (data[:40], answer)
            assert enclave.token not in json.dumps(answer)
    intruder = EnclaveClient(enclave.socket_path, "not-the-token", timeout=5)
    with pytest.raises(EnclaveRequestRejected) as rejected:
        await intruder.status()
    assert rejected.value.code == "unauthorized"
    await intruder.close()
    assert len(await client.random(16)) == 16  # still serving
    assert enclave.process is not None
    assert enclave.process.poll() is None
    await client.close()


async def test_crash_gives_unavailable_and_restart_reloads_sealed_keys(
    enclave: EnclaveProcess, records: RecordStore
) -> None:
    client = _client(enclave, records)
    created = await client.create_key(KeyKind.SECP256R1, POLICY)
    records.put(created)
    key_id = created.info.key_id
    done = asyncio.Event()
    signed = 0

    async def traffic() -> None:
        nonlocal signed
        while True:
            await client.sign(
                key_id,
                os.urandom(32),
                tenant="acme",
                purpose=Purpose.ORACLE,
                fmt=SignatureFormat.ECDSA_SHA256,
            )
            signed += 1
            if signed >= 50:
                done.set()

    tasks = [asyncio.create_task(traffic()) for _ in range(4)]
    async with asyncio.timeout(30):
        await done.wait()
        enclave.kill()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, EnclaveUnavailable) for o in outcomes), outcomes
    with pytest.raises(EnclaveUnavailable):
        await client.status()

    enclave.start()  # same data directory: same sealing secret, empty memory
    assert records.lookups == []
    signature = await client.sign(
        key_id, b"after restart", tenant="acme", purpose=Purpose.ORACLE, fmt=SignatureFormat.ECDSA_SHA256
    )
    assert records.lookups == [(key_id, None)]
    _verify_p256(created.info.public_key, signature, b"after restart")
    assert (await client.public_key(key_id)).public_key == created.info.public_key
    await client.close()


async def test_without_loader_key_not_loaded_is_raised(enclave: EnclaveProcess) -> None:
    client = _client(enclave)
    with pytest.raises(KeyNotLoaded):
        await client.public_key("k_unknown")
    await client.close()


def test_sigterm_removes_the_socket(enclave: EnclaveProcess) -> None:
    assert enclave.terminate() == 0
    assert not enclave.socket_path.exists()


def test_stale_socket_is_replaced(enclave: EnclaveProcess) -> None:
    enclave.kill()  # leaves the socket file behind
    assert enclave.socket_path.exists()
    enclave.start()
    assert stat.S_IMODE(enclave.socket_path.stat().st_mode) == 0o600


def test_refuses_to_start_without_token(enclave: EnclaveProcess) -> None:
    env = enclave.env(NSL_ENCLAVE_SOCKET=str(enclave.data_dir / "other.sock"))
    del env["NSL_ENCLAVE_TOKEN"]
    result = subprocess.run(
        [sys.executable, "-m", "neo_service_layer.enclave"],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"NSL_ENCLAVE_TOKEN" in result.stderr
    assert not (enclave.data_dir / "other.sock").exists()
