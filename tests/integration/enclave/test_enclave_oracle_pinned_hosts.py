"""A secret reaches only the hosts pinned on it: through the real enclave process, a loopback server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from enclave_process_fakes import EnclaveProcess, RecordStore
from tests.unit.enclave.loopback_http import LoopbackServer, json_route

from neo_service_layer.enclave.wire.keys import InvalidKeyRequest, KeyKind, KeyPolicy, Purpose
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    OracleResponse,
    ResultCode,
    SealedSecret,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.secrets.rules import seal_label, seal_payload

SECRET = "paid-api-key-pinned-0123"


class OracleEnclaveProcess(EnclaveProcess):
    """The enclave with the oracle allow-list opened for 127.0.0.1 over plain http (tests only)."""

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(NSL_ORACLE_ALLOW_HOSTS="127.0.0.1", NSL_ORACLE_ALLOW_HTTP="true", **extra)


@pytest.fixture
def oracle_enclave() -> Iterator[EnclaveProcess]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-pin-"))
    process = OracleEnclaveProcess(directory, directory / "e.sock")
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


async def test_a_secret_is_sent_only_to_its_pinned_host(oracle_enclave: EnclaveProcess) -> None:
    records = RecordStore()
    client = EnclaveClient(oracle_enclave.socket_path, oracle_enclave.token, loader=records.load, timeout=5)
    try:
        sealed_key = await client.create_key(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.ORACLE]))
        records.put(sealed_key)
        pinned_elsewhere = await client.seal(
            "acme", seal_label("apikey", 1), seal_payload(SECRET.encode(), ("api.example.com",))
        )
        pinned_here = await client.seal(
            "acme", seal_label("apikey", 2), seal_payload(SECRET.encode(), ("127.0.0.1",))
        )
        async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
            spec = FetchSpec(
                url=server.url("/p"), headers=(("X-Api-Key", "{{secret:apikey}}"),), filter="$.p"
            )

            async def fetch(secret: SealedSecret) -> OracleResponse:
                return await client.oracle_fetch(
                    OracleFacts(2**32 - 3, bytes(20), 1, bytes(20), spec.url, spec.filter),
                    spec,
                    tenant="acme",
                    key_id=sealed_key.info.key_id,
                    key_tenant="operator",
                    secrets=[secret],
                )

            # a template pointing at an unpinned host (the caller's own server): refused, never fetched
            with pytest.raises(InvalidKeyRequest, match="pinned hosts") as refused:
                await fetch(SealedSecret("apikey", 1, pinned_elsewhere))
            assert SECRET not in str(refused.value)
            assert server.seen == []
            # the pinned host gets it
            answer = await fetch(SealedSecret("apikey", 2, pinned_here))
        assert (answer.code, answer.result) == (ResultCode.SUCCESS, b"1")
        assert server.seen[0].headers["x-api-key"] == SECRET
        assert SECRET not in oracle_enclave.log_path.read_text()
    finally:
        await client.close()
