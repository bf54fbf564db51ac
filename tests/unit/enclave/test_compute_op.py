"""``compute_load`` and ``compute_run``: artefacts hashed and compiled by the enclave, runs stopped at
their limits with the reason, secrets only of the run's tenant, signed receipts and answers."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from loopback_http import LoopbackServer, json_route, stall_route
from tests.p256 import p256_verify as verify
from wat_functions import (
    ECHO_FOUR,
    ENDLESS_LOOP,
    LOGS_THEN_FAILS,
    MEMORY_BOMB,
    SLEEPS_AN_HOUR,
    TRAPS,
    UNKNOWN_IMPORT,
    fetch_module,
    secret_module,
)

from neo_service_layer.enclave.clients import check_allowed
from neo_service_layer.enclave.compute.artifacts import ComputeEngine
from neo_service_layer.enclave.compute.limits import MIB
from neo_service_layer.enclave.compute.ops import ComputeOps
from neo_service_layer.enclave.compute.pool import SandboxPool, worker_config
from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.compute import (
    ComputeCode,
    ComputeFacts,
    ReceiptFacts,
    answer_message,
    receipt_message,
)
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import (
    ArtifactNotLoaded,
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    OperationNotAllowed,
    PolicyDenied,
    Purpose,
    SealedDataInvalid,
    SignatureFormat,
)
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.secret_labels import seal_payload

SECRET = "sk-live-compute-42"
LOOPBACK_FETCHER = Fetcher(GuardPolicy.of(["127.0.0.1"], allow_http=True))
STRICT_FETCHER = Fetcher(GuardPolicy())


@pytest.fixture
def engine(sealer: Sealer, tmp_path: Path) -> Any:
    engine = ComputeEngine(sealer, tmp_path / "compute")
    yield engine
    engine.close()


_POOLS: list[SandboxPool] = []


@pytest.fixture(autouse=True)
def _stop_pools() -> Iterator[None]:
    """Every worker pool a test started, stopped at its end."""
    yield
    while _POOLS:
        _POOLS.pop().close()


@pytest.fixture
def compute_key(keystore: KeyStore) -> str:
    return keystore.create(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.COMPUTE])).info.key_id


def ops(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, fetcher: Fetcher = LOOPBACK_FETCHER
) -> ComputeOps:
    """The op with two worker processes reading ``engine``'s compiled artefacts."""
    assert engine.cache_dir is not None
    pool = SandboxPool(worker_config(sealer, engine.cache_dir, fetcher, None), 2)
    _POOLS.append(pool)
    return ComputeOps(engine, keystore, sealer, pool, clock=lambda: 1_700_000_000.5)


async def load(compute: ComputeOps, data: bytes, chunk: int = 700) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    reply: dict[str, Any] = {}
    for offset in range(0, len(data), chunk):
        part = data[offset : offset + chunk]
        reply = await compute.load(
            Args({"digest": digest, "total": len(data), "offset": offset, "chunk": b64encode(part)})
        )
    return reply


def sealed(sealer: Sealer, name: str, value: str = SECRET, tenant: str = "acme") -> dict[str, Any]:
    plaintext = seal_payload(value.encode(), ("127.0.0.1",))
    blob = sealer.seal(SealUse.DATA, {"tenant": tenant, "label": f"secret:{name}:v1"}, plaintext)
    return {"name": name, "version": 1, "blob": b64encode(blob)}


def run_args(key_id: str, data: bytes, input_text: str = "{}", **extra: Any) -> Args:
    values: dict[str, Any] = {
        "tenant": "acme",
        "function_id": "fn-1",
        "digest": hashlib.sha256(data).hexdigest(),
        "input": input_text,
        "key_id": key_id,
        "key_tenant": "operator",
    }
    values.update(extra)
    return Args(values)


async def loaded_run(
    compute: ComputeOps, key: str, data: bytes, input_text: str = "{}", **extra: Any
) -> dict[str, Any]:
    await load(compute, data)
    return await compute.run(run_args(key, data, input_text, **extra))


async def test_a_run_returns_a_large_result_with_a_receipt_that_binds_it(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    reply = await load(compute, ECHO_FOUR)
    assert reply["complete"]
    assert reply["kind"] == "module"
    input_text = json.dumps({"pad": "x" * 100})
    out = await compute.run(run_args(compute_key, ECHO_FOUR, input_text))
    result = b64decode(out["result"])
    assert out["code"] == ComputeCode.SUCCESS
    assert result == input_text.encode() * 4
    assert len(result) > 256
    assert out["function_hash"] == hashlib.sha256(ECHO_FOUR).hexdigest()
    message = receipt_message(
        ReceiptFacts(
            tenant="acme",
            function_id="fn-1",
            function_hash=hashlib.sha256(ECHO_FOUR).digest(),
            input_hash=hashlib.sha256(input_text.encode()).digest(),
            code=0,
            timestamp_ms=1_700_000_000_500,
            result_hash=hashlib.sha256(result).digest(),
        )
    )
    verify(b64decode(out["public_key"]), b64decode(out["signature"]), message)
    with pytest.raises(InvalidSignature):  # another result under the same signature does not verify
        verify(b64decode(out["public_key"]), b64decode(out["signature"]), message[:-1] + b"\x00")


async def test_an_on_chain_answer_binds_the_request_and_runs_on_its_args(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    chain = {
        "magic": 860833102,
        "contract": b64encode(bytes(range(20))),
        "request_id": 9,
        "consumer": b64encode(bytes(range(20, 40))),
        "args": b64encode(b'{"n": 1}'),
    }
    out = await loaded_run(compute, compute_key, ECHO_FOUR, "ignored", chain=chain)
    assert b64decode(out["result"]) == b'{"n": 1}' * 4
    facts = ComputeFacts(860833102, bytes(range(20)), 9, bytes(range(20, 40)), "fn-1", b'{"n": 1}')
    message = answer_message(facts, 0, out["timestamp"], hashlib.sha256(ECHO_FOUR).digest(), b'{"n": 1}' * 4)
    verify(b64decode(out["public_key"]), b64decode(out["signature"]), message)
    bad = await compute.run(run_args(compute_key, ECHO_FOUR, chain={**chain, "args": b64encode(b"\xff")}))
    assert bad["code"] == ComputeCode.BAD_INPUT
    assert b64decode(bad["result"]) == b""


async def test_each_limit_stops_the_run_with_its_name_and_the_enclave_goes_on(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    fuel = await loaded_run(compute, compute_key, ENDLESS_LOOP, limits={"fuel": 5_000_000})
    assert fuel["code"] == ComputeCode.FUEL_EXHAUSTED
    assert "fuel = 5000000" in fuel["detail"]
    assert fuel["fuel_used"] == 5_000_000
    memory = await loaded_run(compute, compute_key, MEMORY_BOMB, limits={"memory_bytes": 32 * MIB})
    assert memory["code"] == ComputeCode.MEMORY_LIMIT
    assert str(32 * MIB) in memory["detail"]
    timeout = await loaded_run(
        compute, compute_key, ENDLESS_LOOP, limits={"fuel": 10**12 // 100, "wall_ms": 300}
    )
    assert timeout["code"] == ComputeCode.TIMEOUT
    assert "wall_ms = 300" in timeout["detail"]
    large = await loaded_run(
        compute, compute_key, ECHO_FOUR, '"' + "y" * 100 + '"', limits={"result_bytes": 100}
    )
    assert large["code"] == ComputeCode.RESULT_TOO_LARGE
    assert "result_bytes = 100" in large["detail"]
    # the same enclave runs the next function normally, and two at once
    again = await asyncio.gather(*(compute.run(run_args(compute_key, ECHO_FOUR, '"ok"')) for _ in range(2)))
    assert [b64decode(r["result"]) for r in again] == [b'"ok"' * 4] * 2


async def test_a_function_blocked_in_a_host_sleep_is_stopped_and_its_worker_replaced(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    slept = await loaded_run(compute, compute_key, SLEEPS_AN_HOUR, limits={"wall_ms": 300})
    assert slept["code"] == ComputeCode.TIMEOUT
    assert "wall_ms = 300 (the run was blocked, and stopped)" in slept["detail"]
    assert slept["wall_ms"] < 60_000
    await load(compute, ECHO_FOUR)
    again = await asyncio.gather(*(compute.run(run_args(compute_key, ECHO_FOUR, '"ok"')) for _ in range(2)))
    assert [b64decode(r["result"]) for r in again] == [b'"ok"' * 4] * 2


async def test_limits_above_the_operators_maxima_are_refused_by_name(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    await load(compute, ECHO_FOUR)
    with pytest.raises(InvalidKeyRequest, match=r"memory_bytes = 1073741824 is above the operator's maximum"):
        await compute.run(run_args(compute_key, ECHO_FOUR, limits={"memory_bytes": 1024 * MIB}))
    with pytest.raises(InvalidKeyRequest, match="unknown limit 'cpu'"):
        await compute.run(run_args(compute_key, ECHO_FOUR, limits={"cpu": 1}))


async def test_fetches_to_loopback_or_metadata_addresses_are_refused(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer, STRICT_FETCHER)
    for url in ("http://127.0.0.1:9/x", "https://127.0.0.1/x", "http://169.254.169.254/latest/meta-data/"):
        out = await loaded_run(compute, compute_key, fetch_module(json.dumps({"url": url})))
        assert out["code"] == ComputeCode.FETCH_REFUSED, out
        assert "fetch refused" in out["detail"]


async def test_a_fetch_through_the_guard_with_a_pinned_secret(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    async with LoopbackServer({"/p": json_route({"price": 12.5})}) as server:
        request = {"url": server.url("/p"), "headers": [["x-api-key", SECRET]]}
        out = await loaded_run(
            compute, compute_key, fetch_module(json.dumps(request)), secrets=[sealed(sealer, "api_key")]
        )
        assert out["code"] == ComputeCode.SUCCESS, out
        response = json.loads(b64decode(out["result"]))
        assert response["status"] == 200
        assert json.loads(b64decode(response["body_base64"])) == {"price": 12.5}
        assert server.seen[-1].headers["x-api-key"] == SECRET
        # the same secret toward a host it is not pinned to never leaves
        other = {"url": server.url("/p", host="localhost"), "headers": [["x-api-key", SECRET]]}
        refused = await loaded_run(
            compute, compute_key, fetch_module(json.dumps(other)), secrets=[sealed(sealer, "api_key")]
        )
        assert refused["code"] == ComputeCode.FETCH_REFUSED
        assert "not among its pinned hosts" in refused["detail"]
        assert SECRET not in json.dumps(refused)


async def test_a_fetch_past_the_time_limit_ends_the_run(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    async with LoopbackServer({"/slow": stall_route(5.0)}) as server:
        out = await loaded_run(
            compute,
            compute_key,
            fetch_module(json.dumps({"url": server.url("/slow")})),
            limits={"wall_ms": 400},
        )
    assert out["code"] in (ComputeCode.TIMEOUT, ComputeCode.FUNCTION_ERROR)
    assert "0.4s" in out["detail"] or "wall_ms = 400" in out["detail"]
    assert out["wall_ms"] < 5000


async def test_secrets_of_another_tenant_or_not_granted_are_unavailable(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    mine = await loaded_run(
        compute, compute_key, secret_module("api_key"), secrets=[sealed(sealer, "api_key")]
    )
    assert mine["code"] == ComputeCode.FORBIDDEN  # returning the value itself is refused
    assert SECRET not in json.dumps(mine)
    theirs = await loaded_run(
        compute, compute_key, secret_module("api_key"), secrets=[sealed(sealer, "api_key", tenant="globex")]
    )
    assert theirs["code"] == ComputeCode.SECRET_UNAVAILABLE
    assert "cannot be opened for tenant acme" in theirs["detail"]
    missing = await loaded_run(
        compute, compute_key, secret_module("other"), secrets=[sealed(sealer, "api_key")]
    )
    assert missing["code"] == ComputeCode.FUNCTION_ERROR
    assert "'other' is not granted" in missing["detail"]


async def test_modules_that_do_not_fit_the_sandbox_are_reported(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    unknown = await loaded_run(compute, compute_key, UNKNOWN_IMPORT)
    assert unknown["code"] == ComputeCode.INVALID_MODULE
    assert "launch_missiles" in unknown["detail"]
    trapped = await loaded_run(compute, compute_key, TRAPS)
    assert trapped["code"] == ComputeCode.TRAP
    assert "divide by zero" in trapped["detail"]
    logged = await loaded_run(compute, compute_key, LOGS_THEN_FAILS)
    assert logged["code"] == ComputeCode.FUNCTION_ERROR
    assert logged["detail"] == "hello log"
    assert logged["log"] == "hello log"
    with pytest.raises(InvalidKeyRequest, match="not a WebAssembly binary"):
        await load(compute, b"#!/bin/sh\nrm -rf /\n")


async def test_the_enclave_checks_the_digest_and_the_chunk_order(
    engine: ComputeEngine, keystore: KeyStore, sealer: Sealer, compute_key: str
) -> None:
    compute = ops(engine, keystore, sealer)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(InvalidKeyRequest, match="SHA-256 is not the digest"):
        await compute.load(
            Args({"digest": wrong, "total": len(ECHO_FOUR), "offset": 0, "chunk": b64encode(ECHO_FOUR)})
        )
    digest = hashlib.sha256(ECHO_FOUR).hexdigest()
    with pytest.raises(InvalidKeyRequest, match="in order"):
        await compute.load(
            Args({"digest": digest, "total": len(ECHO_FOUR), "offset": 5, "chunk": b64encode(b"x")})
        )
    with pytest.raises(ArtifactNotLoaded):
        await compute.run(run_args(compute_key, ECHO_FOUR))


async def test_a_new_engine_reads_the_sealed_compiled_artefact_and_refuses_a_tampered_one(
    keystore: KeyStore, sealer: Sealer, compute_key: str, tmp_path: Path
) -> None:
    first = ComputeEngine(sealer, tmp_path / "c")
    await load(ops(first, keystore, sealer), ECHO_FOUR)
    first.close()  # a restarted enclave: new engine, new workers, the same sealed files
    second = ComputeEngine(sealer, tmp_path / "c")
    try:
        out = await ops(second, keystore, sealer).run(run_args(compute_key, ECHO_FOUR, '"a"'))
        assert b64decode(out["result"]) == b'"a"' * 4
    finally:
        second.close()
    (cached,) = (tmp_path / "c").iterdir()
    cached.write_bytes(cached.read_bytes()[:-1] + b"\x00")
    third = ComputeEngine(sealer, tmp_path / "c")
    try:
        with pytest.raises(ArtifactNotLoaded):  # not deserialized: it has to be sent and compiled again
            await ops(third, keystore, sealer).run(run_args(compute_key, ECHO_FOUR))
    finally:
        third.close()


def test_the_compute_key_signs_nothing_raw_and_the_api_runs_off_chain_only(
    keystore: KeyStore, compute_key: str
) -> None:
    with pytest.raises(PolicyDenied, match="sign only through their enclave operation"):
        keystore.sign(
            compute_key,
            [b"NSL-COMPUTE-V1 forged"],
            tenant="operator",
            purpose=Purpose.COMPUTE,
            fmt=SignatureFormat.ECDSA_SHA256,
        )
    with pytest.raises(OperationNotAllowed, match="off chain only"):
        check_allowed("api", "compute_run", Args({"chain": {"magic": 1}}))
    check_allowed("api", "compute_run", Args({"tenant": "acme"}))
    check_allowed("worker", "compute_run", Args({"chain": {"magic": 1}}))
    with pytest.raises(OperationNotAllowed):
        check_allowed("cli", "compute_run", Args({}))


def test_a_worker_process_sealer_opens_compiled_artefacts_and_nothing_else(sealer: Sealer) -> None:
    """The workers get the derived key of ENCLAVE_STATE only: no secret value, no key record."""
    worker = Sealer.single_use(SealUse.ENCLAVE_STATE, sealer.use_key(SealUse.ENCLAVE_STATE))
    state = sealer.seal(SealUse.ENCLAVE_STATE, {"label": "compute:x"}, b"compiled")
    assert worker.unseal(SealUse.ENCLAVE_STATE, {"label": "compute:x"}, state) == b"compiled"
    secret = sealer.seal(SealUse.DATA, {"tenant": "acme", "label": "secret:api_key:v1"}, b"value")
    record = sealer.seal(SealUse.KEY_RECORD, {"key_id": "k_1"}, b"private key")
    with pytest.raises(SealedDataInvalid, match="holds no key for data"):
        worker.unseal(SealUse.DATA, {"tenant": "acme", "label": "secret:api_key:v1"}, secret)
    with pytest.raises(SealedDataInvalid, match="holds no key for key-record"):
        worker.unseal(SealUse.KEY_RECORD, {"key_id": "k_1"}, record)
