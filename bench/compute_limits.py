"""The limits phase of ``bench.compute``: what the default limits let through and when they stop a run
(the largest result, a busy loop, how much a Python function can allocate), through ``ComputeOps.run``,
for the comparison with Chainlink Functions' limits."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from tests.unit.enclave.wat_functions import ENDLESS_LOOP

from neo_service_layer.enclave.compute.limits import DEFAULT_LIMITS, DEFAULT_MAXIMA, MIB
from neo_service_layer.enclave.compute.ops import ComputeOps
from neo_service_layer.enclave.wire.compute import ComputeCode
from neo_service_layer.enclave.wire.encoding import b64decode, b64encode
from neo_service_layer.enclave.wire.protocol import Args


def run_args(key_id: str, digest: str, input_text: str, limits: dict[str, int] | None = None) -> Args:
    """``compute_run`` arguments; ``digest`` is the artefact's SHA-256 (hex), computed once by the caller."""
    return Args(
        {
            "tenant": "bench",
            "function_id": "fn-bench",
            "digest": digest,
            "input": input_text,
            "limits": limits,
            "key_id": key_id,
            "key_tenant": "operator",
        }
    )


async def limits_phase(python: bytes, ops: ComputeOps, key_id: str) -> None:
    """What the limits let through and when they stop a run (for the Chainlink Functions comparison)."""
    cases: list[tuple[str, bytes, dict[str, Any], dict[str, int] | None]] = [
        ("Python result of 64 KiB, default limits", python, {"size": 64 * 1024}, None),
        ("Python result of 64 KiB + 1, default limits", python, {"size": 64 * 1024 + 1}, None),
        ("Python result of 1 MiB, result_bytes at the maximum", python, {"size": MIB}, {"result_bytes": MIB}),
        ("Python allocates 64 MiB, default memory", python, {"alloc": 64 * MIB}, None),
        ("Python allocates 96 MiB, default memory", python, {"alloc": 96 * MIB}, None),
        ("Python allocates 128 MiB, default memory", python, {"alloc": 128 * MIB}, None),
        ("Python busy loop, default limits", python, {"spin": True}, None),
        ("WAT busy loop, default limits", ENDLESS_LOOP, {}, None),
        (
            "WAT busy loop, fuel at the maximum, wall_ms 10000",
            ENDLESS_LOOP,
            {},
            {"fuel": DEFAULT_MAXIMA.fuel, "wall_ms": 10_000},
        ),
    ]
    await ops.load(_load_args(ENDLESS_LOOP))
    print("\n## Limits (in process, one run each)\n")
    print(
        f"Defaults: fuel {DEFAULT_LIMITS.fuel:,}, memory {DEFAULT_LIMITS.memory_bytes // MIB} MiB, wall "
        f"{DEFAULT_LIMITS.wall_ms} ms, result {DEFAULT_LIMITS.result_bytes // 1024} KiB, fetches "
        f"{DEFAULT_LIMITS.fetches}; operator maxima: fuel {DEFAULT_MAXIMA.fuel:,}, memory "
        f"{DEFAULT_MAXIMA.memory_bytes // MIB} MiB, wall {DEFAULT_MAXIMA.wall_ms} ms, result "
        f"{DEFAULT_MAXIMA.result_bytes // MIB} MiB.\n"
    )
    print("| case | outcome | result bytes | fuel used | wall_ms | `ComputeOps.run` s | detail |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, data, value, limits in cases:
        args = run_args(key_id, hashlib.sha256(data).hexdigest(), json.dumps(value), limits)
        start = time.perf_counter()
        reply = await ops.run(args)
        elapsed = time.perf_counter() - start
        code = ComputeCode(reply["code"]).name.lower()
        detail = str(reply["detail"]).replace("|", "/")[:90]
        size = len(b64decode(reply["result"]))
        print(
            f"| {name} | {code} | {size} | {reply['fuel_used']:,} | {reply['wall_ms']} "
            f"| {elapsed:.2f} | {detail} |"
        )


def _load_args(data: bytes) -> Args:
    return Args(
        {
            "digest": hashlib.sha256(data).hexdigest(),
            "total": len(data),
            "offset": 0,
            "chunk": b64encode(data),
        }
    )
