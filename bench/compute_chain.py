"""On-chain compute latency on a local neo-go chain (1 s blocks, loopback only).

Usage: ``python -m bench.compute_chain [--requests 20] [--burst 20] [--python]``.

Sets up a whole installation (neo-go privnet, enclave process, SQLite, one ``nsl worker`` subprocess),
uploads a WAT echo function (and, with ``--python``, the Python price-report example, which fetches from a
loopback HTTP server with a sealed API key) with ``onChain``, deploys the example consumer, then asks:

- ``--requests`` one at a time: blocks and seconds from the request's block to the block that
  fulfilled and delivered it (the consumer's callback ran in that block);
- a burst of ``--burst`` requests sent at once: in how many blocks all were delivered.

Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import platform
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from tests.e2e.chain.oracle_support import WebServer, deploy_service_consumer, invoke, web_server
from tests.e2e.chain.stack import Stack, close_stack, open_stack
from tests.http.appclient import app_client
from tests.integration.compute.conftest import EXAMPLES
from tests.unit.enclave.wat_functions import ECHO_FOUR

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.http.security import authenticate
from neo_service_layer.kernel.identity.rules.access import Principal, PrincipalKind
from neo_service_layer.services.compute.adapters.payloads import ComputePayloads
from neo_service_layer.services.compute.scopes import COMPUTE_READ, COMPUTE_WRITE
from neo_service_layer.services.compute.use_cases.fulfilment import SERVICE
from neo_service_layer.services.secrets.scopes import SECRETS_READ, SECRETS_WRITE

CALLER = Principal(
    tenant_id="bench",
    subject="key-1",
    kind=PrincipalKind.API_KEY,
    scopes=frozenset({COMPUTE_READ, COMPUTE_WRITE, SECRETS_WRITE, SECRETS_READ}),
)
#: the GAS (fractions) each request gives its callback: keeping a result costs 0.001 GAS a byte
CALLBACK_GAS = 200_000_000
PRICES = {"items": [{"name": f"item{i}", "price_cents": 100 + i, "qty": i + 1} for i in range(6)]}


async def _upload(stack: Stack, python_source: str | None) -> dict[str, str]:
    app: FastAPI = create_app(stack.settings, migrate=False)

    async def caller() -> Principal:
        return CALLER

    app.dependency_overrides[authenticate] = caller
    functions: dict[str, str] = {}
    async with app_client(app) as client:
        client.timeout = 600
        wat = await client.post(
            "/api/v1/compute/functions",
            json={
                "name": "echo",
                "language": "wasm",
                "moduleBase64": base64.b64encode(ECHO_FOUR).decode(),
                "onChain": True,
            },
        )
        functions["wat"] = wat.json()["functionId"]
        if python_source is not None:
            await client.put(
                "/api/v1/secrets/api_key",
                json={"value": "bench-key", "consumers": ["compute"], "allowed_hosts": ["127.0.0.1"]},
            )
            started = time.monotonic()
            py = await client.post(
                "/api/v1/compute/functions",
                json={
                    "name": "price report",
                    "language": "python",
                    "source": python_source,
                    "secrets": ["api_key"],
                    "onChain": True,
                },
            )
            assert py.status_code == 201, py.text
            print(f"python upload (build + compile): {time.monotonic() - started:.1f} s")
            functions["python"] = py.json()["functionId"]
    return functions


async def _delivered(stack: Stack, contract: str, request_id: int, timeout: float = 120) -> Any:
    store = stack.requests(ComputePayloads())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await store.get(SERVICE, contract, request_id)
        if row is not None and row.status in (RequestStatus.DELIVERED, RequestStatus.FAILED):
            return row
        await asyncio.sleep(0.2)
    raise TimeoutError(f"request {request_id} not delivered in {timeout} s")


def _args(kind: str, web: WebServer) -> bytes:
    if kind == "python":
        return json.dumps({"url": web.url("/prices"), "currency": "EUR"}).encode()
    return b'{"n":1}'


async def _sequential(
    stack: Stack, consumer: Any, contract: str, function_id: str, args: bytes, count: int
) -> tuple[list[int], list[float]]:
    blocks: list[int] = []
    seconds: list[float] = []
    for _ in range(count):
        started = time.monotonic()
        rid, block, _ = await invoke(stack, consumer, "requestCompute", function_id, args, b"", CALLBACK_GAS)
        row = await _delivered(stack, contract, rid)
        assert row.status is RequestStatus.DELIVERED, row
        blocks.append(row.delivered_block - block)
        seconds.append(time.monotonic() - started)
    return blocks, seconds


async def _burst(
    stack: Stack, consumer: Any, contract: str, function_id: str, args: bytes, count: int
) -> int:
    sent = await asyncio.gather(
        *(
            invoke(stack, consumer, "requestCompute", function_id, args, b"", CALLBACK_GAS)
            for _ in range(count)
        )
    )
    first = min(block for _, block, _ in sent)
    rows = [await _delivered(stack, contract, rid) for rid, _, _ in sent]
    assert all(r.status is RequestStatus.DELIVERED for r in rows)
    return int(max(r.delivered_block for r in rows)) - first


def _spread(values: Sequence[int]) -> str:
    counts = Counter(values)
    return ", ".join(f"{k}: {counts[k]}" for k in sorted(counts))


async def run(requests: int, burst: int, python_source: str | None, block_seconds: float) -> None:
    stack = await open_stack(
        block_time=block_seconds, oracle_allow_hosts="127.0.0.1", oracle_allow_http="true"
    )
    try:
        with web_server() as web:
            web.set("/prices", PRICES)
            stack.start_worker()
            functions = await _upload(stack, python_source)
            contract = stack.network.contracts["compute"]
            consumer = await deploy_service_consumer(stack, "compute_consumer", "compute", gas=2000)
            print(f"\n## On-chain compute ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()})\n")
            print(f"neo-go single node, {block_seconds:g} s blocks, one `nsl worker`, SQLite; one run.\n")
            print("| function | requests | blocks request → callback (count per value) | median s | max s |")
            print("| --- | --- | --- | --- | --- |")
            for kind, function_id in functions.items():
                blocks, seconds = await _sequential(
                    stack, consumer, contract, function_id, _args(kind, web), requests
                )
                print(
                    f"| {kind} | {requests} one at a time | {_spread(blocks)} | "
                    f"{statistics.median(seconds):.2f} | {max(seconds):.2f} |"
                )
            for kind, function_id in functions.items():
                spread = await _burst(stack, consumer, contract, function_id, _args(kind, web), burst)
                within = f"all delivered within {spread} blocks of the first request"
                print(f"| {kind} | burst of {burst} | {within} | | |")
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--python", action="store_true", help="also the Python example (builds it: ~1 min)")
    parser.add_argument("--block-time", type=float, default=1.0)
    args = parser.parse_args()
    source = Path(EXAMPLES["python"]).read_text() if args.python else None
    asyncio.run(run(args.requests, args.burst, source, args.block_time))


if __name__ == "__main__":
    main()
