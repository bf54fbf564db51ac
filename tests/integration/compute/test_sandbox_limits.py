"""A Python function built by the real builder and run by the enclave's real sandbox (``ComputeOps``):
each rule it breaks stops it with the reason, and the next run goes on as usual."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from neo_service_layer.enclave.compute.artifacts import ComputeEngine
from neo_service_layer.enclave.compute.limits import MIB
from neo_service_layer.enclave.compute.ops import ComputeOps
from neo_service_layer.enclave.compute.pool import SandboxPool, worker_config
from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.wire.compute import ComputeCode
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.keys import KeyKind, KeyPolicy, Purpose
from neo_service_layer.enclave.wire.protocol import Args
from neo_service_layer.enclave.wire.secret_labels import seal_payload

SOURCE = (Path(__file__).with_name("functions") / "misbehave.py").read_text()
SEALER = Sealer(b"compute-sandbox-test-sealing-secret")


@pytest.fixture(scope="module")
def compiled(
    build_cached: Callable[[str, str], bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ComputeEngine, bytes]]:
    """The function compiled once for the module (about 20 s of Cranelift)."""
    engine = ComputeEngine(SEALER, tmp_path_factory.mktemp("compute"))
    data = build_cached("python", SOURCE)
    engine.compile(data)
    yield engine, data
    engine.close()


@pytest.fixture
def compute(compiled: tuple[ComputeEngine, bytes]) -> Iterator[tuple[ComputeOps, str, bytes]]:
    """The op with two worker processes (the strict guard: public HTTPS only)."""
    keys = KeyStore(SEALER, Revocations(SEALER, None))
    key = keys.create(KeyKind.SECP256R1, KeyPolicy.of("operator", [Purpose.COMPUTE])).info.key_id
    engine, data = compiled
    assert engine.cache_dir is not None
    pool = SandboxPool(worker_config(SEALER, engine.cache_dir, Fetcher(GuardPolicy()), None), 2)
    yield ComputeOps(engine, keys, SEALER, pool), key, data
    pool.close()


async def run(compute: tuple[ComputeOps, str, bytes], case: dict[str, Any], **extra: Any) -> dict[str, Any]:
    ops, key, data = compute
    values = {
        "tenant": "acme",
        "function_id": "fn-misbehave",
        "digest": hashlib.sha256(data).hexdigest(),
        "input": json.dumps(case),
        "key_id": key,
        "key_tenant": "operator",
        **extra,
    }
    return await ops.run(Args(values))


async def test_each_rule_broken_is_reported_and_the_next_run_is_fine(
    compute: tuple[ComputeOps, str, bytes],
) -> None:
    fuel = await run(compute, {"case": "loop"}, limits={"fuel": 200_000_000})
    assert (fuel["code"], fuel["detail"]) == (
        ComputeCode.FUEL_EXHAUSTED,
        "fuel exhausted: the run used all of fuel = 200000000",
    )

    memory = await run(compute, {"case": "memory"}, limits={"memory_bytes": 64 * MIB})
    assert memory["code"] == ComputeCode.MEMORY_LIMIT, memory
    assert f"memory_bytes = {64 * MIB}" in memory["detail"]

    sleep = await run(compute, {"case": "sleep"}, limits={"wall_ms": 500, "fuel": 10**12 // 50})
    assert sleep["code"] == ComputeCode.TIMEOUT, sleep
    assert "wall_ms = 500" in sleep["detail"]

    for url in ("https://127.0.0.1/", "http://169.254.169.254/latest/meta-data/"):
        refused = await run(compute, {"case": "fetch", "url": url})
        assert refused["code"] == ComputeCode.FETCH_REFUSED, refused
        assert "fetch refused" in refused["detail"]

    blob = SEALER.seal(
        SealUse.DATA,
        {"tenant": "globex", "label": "secret:api_key:v1"},
        seal_payload(b"theirs", ("a.example",)),
    )
    theirs = await run(
        compute,
        {"case": "secret", "name": "api_key"},
        secrets=[{"name": "api_key", "version": 1, "blob": b64encode(blob)}],
    )
    assert theirs["code"] == ComputeCode.SECRET_UNAVAILABLE
    assert "cannot be opened for tenant acme" in theirs["detail"]
    not_granted = await run(compute, {"case": "secret", "name": "api_key"})
    assert not_granted["code"] == ComputeCode.FUNCTION_ERROR
    assert "'api_key' is not granted" in not_granted["detail"]

    fine = await run(compute, {"case": "hello"})
    assert fine["code"] == ComputeCode.SUCCESS
    assert json.loads(b64decode(fine["result"])) == {"ok": True, "case": "hello"}
