"""``oracle_fetch`` through the real enclave process and client, against a loopback server (allowed)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from enclave_process_fakes import EnclaveProcess, RecordStore
from tests.p256 import p256_verify as _verify
from tests.unit.enclave.loopback_http import LoopbackServer, json_route, raw_route

from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, Purpose
from neo_service_layer.enclave.wire.oracle import (
    FetchSpec,
    OracleFacts,
    ResultCode,
    SealedSecret,
    response_message,
)
from neo_service_layer.kernel.enclave_client.client import EnclaveClient
from neo_service_layer.services.secrets.rules import seal_label, seal_payload

MAGIC = 2**32 - 3
CONTRACT = bytes(range(20))
CONSUMER = bytes(range(50, 70))


class OracleEnclaveProcess(EnclaveProcess):
    """The enclave with the oracle allow-list opened for 127.0.0.1 over plain http (tests only)."""

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(NSL_ORACLE_ALLOW_HOSTS="127.0.0.1", NSL_ORACLE_ALLOW_HTTP="true", **extra)


@pytest.fixture
def oracle_enclave() -> Iterator[EnclaveProcess]:
    directory = Path(tempfile.mkdtemp(prefix="nsl-orc-"))
    process = OracleEnclaveProcess(directory, directory / "e.sock")
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


async def test_oracle_fetch_through_the_enclave_process(oracle_enclave: EnclaveProcess) -> None:
    records = RecordStore()
    client = EnclaveClient(oracle_enclave.socket_path, oracle_enclave.token, loader=records.load, timeout=5)
    try:
        sealed_key = await client.create_key(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.ORACLE]))
        records.put(sealed_key)
        key_id = sealed_key.info.key_id
        secret = "paid-api-key-0123456789"
        pinned = seal_payload(secret.encode(), ("127.0.0.1",))  # the loopback server is the pinned host
        blob = await client.seal("acme", seal_label("apikey", 1), pinned)
        routes = {"/ticker": raw_route(b'{"NEO": {"USD": 12.340}}', "application/json; charset=utf-8")}
        async with LoopbackServer(routes) as server:
            spec = FetchSpec(
                url=server.url("/ticker?sym=NEO"),
                headers=(("X-Api-Key", "{{secret:apikey}}"),),
                filter="$.NEO.USD",
            )
            answer = await client.oracle_fetch(
                OracleFacts(MAGIC, CONTRACT, 42, CONSUMER, "nsl://template/neo-usd", spec.filter),
                spec,
                tenant="acme",
                key_id=key_id,
                key_tenant="operator",
                secrets=[SealedSecret("apikey", 1, blob)],
            )
        assert server.seen[0].headers["x-api-key"] == secret
        assert (answer.code, answer.result, answer.status) == (ResultCode.SUCCESS, b"12.340", 200)
        assert (answer.url, answer.filter, answer.key_id, answer.key_version) == (
            "nsl://template/neo-usd",
            "$.NEO.USD",
            key_id,
            1,
        )
        assert answer.public_key == sealed_key.info.public_key
        facts = OracleFacts(MAGIC, CONTRACT, 42, CONSUMER, "nsl://template/neo-usd", "$.NEO.USD")
        assert answer.facts == facts
        message = response_message(facts, 0, answer.timestamp_ms, b"12.340")
        assert answer.message() == message
        _verify(sealed_key.info.public_key, answer.signature, message)
        assert secret not in repr(answer)
        assert secret not in oracle_enclave.log_path.read_text()

        forbidden = await client.oracle_fetch(
            OracleFacts(MAGIC, CONTRACT, 43, CONSUMER, "http://10.0.0.1/", ""),
            FetchSpec(url="http://10.0.0.1/"),
            tenant="acme",
            key_id=key_id,
            key_tenant="operator",
        )
        assert (forbidden.code, forbidden.result) == (ResultCode.FORBIDDEN, b"")
        _verify(sealed_key.info.public_key, forbidden.signature, forbidden.message())
    finally:
        await client.close()


async def test_key_is_reprovisioned_after_a_restart(oracle_enclave: EnclaveProcess) -> None:
    records = RecordStore()
    client = EnclaveClient(oracle_enclave.socket_path, oracle_enclave.token, loader=records.load, timeout=5)
    try:
        sealed_key = await client.create_key(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.ORACLE]))
        records.put(sealed_key)
        oracle_enclave.kill()
        oracle_enclave.start()
        async with LoopbackServer({"/p": json_route({"p": 1})}) as server:
            spec = FetchSpec(url=server.url("/p"), filter="$.p")
            answer = await client.oracle_fetch(
                OracleFacts.offchain(1, "acme", spec.url, spec.filter),
                spec,
                tenant="acme",
                key_id=sealed_key.info.key_id,
                key_tenant="operator",
            )
        assert (answer.code, answer.result) == (ResultCode.SUCCESS, b"1")
        assert records.lookups == [(sealed_key.info.key_id, None)]
    finally:
        await client.close()
