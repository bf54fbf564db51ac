"""Loopback TCP transport (what Gramine SGX needs): the same server and client, in one event loop."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from neo_service_layer.enclave.main import build_server
from neo_service_layer.enclave.settings import EnclaveSettings
from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, Purpose, SignatureFormat
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.kernel.enclave_client.ports import EnclaveUnavailable


async def test_tcp_round_trip(tmp_path: Path) -> None:
    settings = EnclaveSettings(data_dir=tmp_path, enclave_token=SecretStr("tcp-token"))
    server = build_server(settings, tcp_address=("127.0.0.1", 0))
    await server.start()
    port = server.tcp_port
    assert port is not None
    client = EnclaveClient(("127.0.0.1", port), "tcp-token", timeout=5)
    try:
        created = await client.create_key(KeyKind.ED25519, KeyPolicy.of("acme", [Purpose.MESSAGE]))
        signature = await client.sign(
            created.info.key_id, b"m", tenant="acme", purpose=Purpose.MESSAGE, fmt=SignatureFormat.ED25519
        )
        assert len(signature) == 64
        assert not (tmp_path / "enclave.sock").exists()
    finally:
        await client.close()
        await server.close()
    try:
        await client.status()
    except EnclaveUnavailable:
        pass
    else:
        raise AssertionError("a closed enclave must be unavailable")
