"""Randomness service latency and burst capacity on a local neo-go chain (1 s blocks, loopback only).

Usage: ``python -m bench.randomness [--requests 200] [--burst 500] [--block-time 1.0]``.

Sets up a whole installation (neo-go privnet, enclave process, SQLite, one ``nsl worker`` subprocess,
the dice consumer), then measures:

1. the distribution of (fulfilment block - request block) over ``--requests`` dice rolls, sent a few per
   block;
2. a burst of ``--burst`` requests in one block (transactions of 100 ``roll`` calls each, signed first and
   sent together right after a block): in how many blocks all are fulfilled, and how fast the worker
   turns requests into fulfilment transactions (requests per second from first seen to last signed).

Bounded: every wait has a timeout; every process is stopped at the end. Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
import shutil
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from neo3 import vm
from neo3.api import noderpc
from neo3.api.helpers import txbuilder
from tests.e2e.chain.stack import Stack, close_stack, open_stack, sql

from neo_service_layer.kernel.chain.adapters.privnet_deploy import GAS

CHAINLINK_VRF_MIN_CONFIRMATIONS = 3


async def _signed_rolls(stack: Stack, dice: Any, rolls: int, per_tx: int) -> list[bytes]:
    """Signed transactions, each calling ``dice.roll()`` ``per_tx`` times (not sent)."""
    raws = []
    async with noderpc.NeoRpcClient(stack.net.rpc_url, timeout=30.0) as client:
        for start in range(0, rolls, per_tx):
            count = min(per_tx, rolls - start)
            sb = vm.ScriptBuilder()
            for _ in range(count):
                sb.emit_contract_call(dice, "roll")
            script = sb.to_array()
            builder = txbuilder.TxBuilder(client, script)
            await builder.init()
            builder.tx.nonce = secrets.randbits(32)
            for func, signer in stack.committee.signers:
                builder.add_signer(func, signer)
            await builder.set_valid_until_block(100)
            dry = await client.invoke_script(script, builder.tx.signers)
            assert dry.state == "HALT", dry.exception
            # 0.05 GAS a roll above the dry run: the first requests of a new consumer write its first
            # fee records, which a dry run against the state before the block does not price (0.013 GAS)
            builder.tx.system_fee = dry.gas_consumed + count * GAS // 20
            builder.tx.network_fee = 999
            await builder.build_and_sign()
            await builder.calculate_network_fee()
            builder.tx.witnesses = []
            raws.append((await builder.build_and_sign()).to_array())
    return raws


async def _send_in_one_block(stack: Stack, raws: list[bytes]) -> None:
    async with noderpc.NeoRpcClient(stack.net.rpc_url, timeout=30.0) as client:
        height = await client.get_block_count()
        while await client.get_block_count() == height:  # noqa: ASYNC110 - polling the node
            await asyncio.sleep(0.01)  # start right after a block: a full block time to land in one
        await asyncio.gather(*(client.send_transaction(raw) for raw in raws))


async def _wait_all_final(stack: Stack, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await sql(stack, "SELECT count(*) FROM chain_requests WHERE status = 'delivered'")
        if rows[0][0] >= expected:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not all {expected} requests were delivered within {timeout}s")


async def run(requests: int, burst: int, block_time: float) -> str:
    stack = await open_stack(block_time=block_time, neo_lease_seconds=30, neo_valid_until_blocks=20)
    try:
        dice = await stack.deploy_consumer("dice_consumer", gas=int((requests + burst) * 0.7) + 10)
        stack.start_worker()
        await asyncio.sleep(2 * block_time)

        # 1. latency distribution: a few rolls per block
        per_block = 8
        started = time.monotonic()
        for start in range(0, requests, per_block):
            raws = await _signed_rolls(stack, dice, min(per_block, requests - start), 1)
            await _send_in_one_block(stack, raws)
        await _wait_all_final(stack, requests, timeout=requests / per_block * block_time * 3 + 60)
        latency_wall = time.monotonic() - started
        rows = await sql(stack, "SELECT fulfilled_block - request_block FROM chain_requests")
        distances = Counter(int(r[0]) for r in rows)
        seconds = await sql(
            stack, "SELECT request_time, fulfilled_time FROM chain_requests WHERE fulfilled_time IS NOT NULL"
        )

        # 2. burst: many requests in one block
        raws = await _signed_rolls(stack, dice, burst, 100)
        burst_started = time.monotonic()
        await _send_in_one_block(stack, raws)
        await _wait_all_final(stack, requests + burst, timeout=120)
        burst_wall = time.monotonic() - burst_started
        burst_rows = await sql(
            stack,
            f"SELECT request_block, fulfilled_block, seen_at FROM chain_requests "
            f"ORDER BY request_block DESC, request_id DESC LIMIT {burst}",
        )
        request_blocks = {int(r[0]) for r in burst_rows}
        burst_distance = [int(r[1]) - int(r[0]) for r in burst_rows]
        outbox = await sql(stack, "SELECT created_at FROM chain_outbox ORDER BY created_at")
        seen = sorted(_ts(r[2]) for r in burst_rows)
        last_signed = _ts(outbox[-1][0])
        worker_seconds = (last_signed - seen[0]).total_seconds()
        burst_txs = await sql(
            stack,
            "SELECT count(DISTINCT fulfilled_tx) FROM chain_requests "
            f"WHERE request_block = {max(request_blocks)}",
        )
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)

    latency_s = [(_ts(b) - _ts(a)).total_seconds() for a, b in seconds]
    lines = [
        f"## Randomness service — {datetime.now(UTC):%Y-%m-%d} ({platform.node()}, {platform.machine()}, "
        f"neo-go 0.120 single node, {block_time:g} s blocks, one `nsl worker`, SQLite)",
        "",
        f"### Request → fulfilment, {requests} dice rolls ({per_block} per block)",
        "",
        "| blocks after the request block | requests | share |",
        "| --- | --- | --- |",
        *[f"| {d} | {n} | {n / requests:.1%} |" for d, n in sorted(distances.items())],
        "",
        f"Block timestamps, request block → fulfilling block: median {statistics.median(latency_s):.2f} s, "
        f"max {max(latency_s):.2f} s. Wall time for all: {latency_wall:.1f} s.",
        f"Published anchor: Chainlink VRF waits at least {CHAINLINK_VRF_MIN_CONFIRMATIONS} confirmations "
        "before it answers; this service answers in the next block.",
        "",
        f"### Burst: {burst} requests in {len(request_blocks)} block(s)",
        "",
        "| blocks after the request block | requests |",
        "| --- | --- |",
        *[f"| {d} | {n} |" for d, n in sorted(Counter(burst_distance).items())],
        "",
        f"All {burst} delivered {burst_wall:.1f} s after sending; "
        f"fulfilled by {burst_txs[0][0]} transactions.",
        "Worker: first request seen → last fulfilment transaction signed and recorded: "
        f"{worker_seconds:.2f} s = **{burst / worker_seconds:.0f} fulfilments/s** "
        "(enclave BLS + ECDSA signing, dry-runs, outbox).",
    ]
    return "\n".join(lines)


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--block-time", type=float, default=1.0)
    args = parser.parse_args()
    print(asyncio.run(run(args.requests, args.burst, args.block_time)))


if __name__ == "__main__":
    main()
