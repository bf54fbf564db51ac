"""Automation lateness and burst on a local neo-go chain (1 s blocks, loopback only).

Usage: ``python -m bench.automation [--minutes 3] [--burst 500] [--block-time 1.0]``.

Sets up a whole installation (neo-go privnet, enclave process, SQLite, one ``nsl worker`` subprocess,
the example target ``contracts/examples/automation_target.py``) and registers four upkeeps: a cron
``* * * * *``, an event upkeep on the target's ``Ping``, a condition upkeep on its ``ready()`` (armed by
``arm()``), and, for the burst, a second event upkeep. Then, for ``--minutes``:

- lateness of each cron run: blocks from the first block whose timestamp reached the minute to the
  block that performed it;
- lateness of event runs: a ``ping(1)`` every few blocks; blocks from the event's block to the run's;
- lateness of condition runs: an ``arm()`` every few blocks; blocks from the arm's block to the run's;

and finally a burst: ``ping(500)`` in one transaction, one run per notification: in how many blocks all
500 were performed. GAS: the target's GAS per run and the charge (``UpkeepPerformed``), and the
operator's system and network fee per run (its ``perform`` transactions). Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from neo3.api import noderpc
from tests.e2e.chain.automation_support import (
    block_time,
    deploy_target,
    events,
    height,
    register,
    ticks,
)
from tests.e2e.chain.stack import Stack, call, close_stack, open_stack, sql

from neo_service_layer.kernel.chain.adapters.neo_chain import uint160
from neo_service_layer.kernel.chain.adapters.privnet_deploy import GAS
from neo_service_layer.services.automation.rules.triggers import ConditionTrigger, CronTrigger, EventTrigger

#: the burst upkeep's balance: 500 runs at gasLimit + baseFee (1.1 GAS) each before the first is charged
BURST_FUND = 800 * GAS


def automation_hash(stack: Stack) -> Any:
    return uint160(stack.network.contracts["automation"])


def _spread(values: list[int]) -> str:
    if not values:
        return "none"
    counts = Counter(values)
    shape = ", ".join(f"{k}: {counts[k]}" for k in sorted(counts))
    return f"median {statistics.median(values)}, max {max(values)} ({shape}; n = {len(values)})"


async def _first_block_at(stack: Stack, moment: int, hint: int) -> int:
    """The first block whose timestamp is at or after ``moment`` (searching up from ``hint``)."""
    index = hint
    while await block_time(stack, index) < moment:
        index += 1
    while index > 0 and await block_time(stack, index - 1) >= moment:
        index -= 1
    return index


async def _fees(stack: Stack, contract: str, upkeeps: tuple[int, ...]) -> tuple[list[float], list[float]]:
    """Operator's (system fee, network fee) per run, in GAS, over the perform transactions of ``upkeeps``."""
    ids = ",".join(str(u) for u in upkeeps)
    rows = await sql(
        stack,
        "SELECT r.fulfilled_tx, count(*) FROM chain_requests r JOIN automation_runs a "
        "ON a.contract = r.contract AND a.request_id = r.request_id "
        f"WHERE r.service = 'automation' AND a.upkeep_id IN ({ids}) AND r.fulfilled_tx IS NOT NULL "
        "GROUP BY r.fulfilled_tx",
    )
    system, network = [], []
    async with noderpc.NeoRpcClient(stack.net.rpc_url, timeout=30.0) as client:
        for tx_hash, runs in rows:
            tx = await client.get_transaction(tx_hash[2:] if tx_hash.startswith("0x") else tx_hash)
            system.append(tx.system_fee / GAS / int(runs))
            network.append(tx.network_fee / GAS / int(runs))
    return system, network


async def run(minutes: float, burst: int, block_seconds: float) -> str:
    stack = await open_stack(block_time=block_seconds)
    try:
        target = await deploy_target(stack)
        first = await height(stack)
        cron = await register(stack, target, CronTrigger.parse("* * * * *"), fund=50 * GAS)
        pinged = await register(stack, target, EventTrigger("0x" + str(target), "Ping"), fund=50 * GAS)
        condition = await register(
            stack, target, ConditionTrigger("ready", 1), method="consume", fund=50 * GAS
        )
        stack.start_worker()
        ping_blocks: list[int] = []
        arm_blocks: list[int] = []
        deadline = time.monotonic() + minutes * 60
        turn = 0
        while time.monotonic() < deadline:
            if turn % 2 == 0:
                ping_blocks.append((await stack.committee.invoke(call(target, "ping", 1))).included_in_block)
            else:
                arm_blocks.append((await stack.committee.invoke(call(target, "arm"))).included_in_block)
            turn += 1
            await asyncio.sleep(3 * block_seconds)
        await asyncio.sleep(5 * block_seconds)  # the last runs land

        found = await ticks(stack, target, first)
        event_late = sorted(t.block - t.occurrence // 1_000_000 for t in found if t.upkeep_id == pinged)
        cron_late = []
        for tick in (t for t in found if t.upkeep_id == cron):
            due = await _first_block_at(stack, tick.occurrence, max(first, tick.block - 5))
            cron_late.append(tick.block - due)
        condition_runs = sorted(t.block for t in found if t.upkeep_id == condition)
        condition_late = (
            [
                min((b - a for b in condition_runs if b > a), default=-1)
                for a in arm_blocks
                if a < condition_runs[-1]
            ]
            if condition_runs
            else []
        )

        # the burst: one transaction with `burst` Ping notifications, one run each (of this upkeep only)
        await stack.committee.invoke(call(automation_hash(stack), "pauseUpkeep", pinged))
        burst_upkeep = await register(
            stack, target, EventTrigger("0x" + str(target), "Ping"), fund=BURST_FUND
        )
        receipt = await stack.committee.invoke(call(target, "ping", burst), append_system_fee=GAS)
        burst_block = receipt.included_in_block
        start = time.monotonic()
        done: list[int] = []
        while time.monotonic() - start < 120:
            done = [t.block for t in await ticks(stack, target, burst_block) if t.upkeep_id == burst_upkeep]
            if len(done) >= burst:
                break
            await asyncio.sleep(block_seconds)
        performed = await events(stack, stack.network.contracts["automation"], "UpkeepPerformed", first)
        gas_used = [int(v[2]) / GAS for _b, v in performed]
        charged = [int(v[3]) / GAS for _b, v in performed]
        system, network = await _fees(stack, stack.network.contracts["automation"], (cron, pinged, condition))
        burst_system: list[float] = []
        for _ in range(30):  # the worker records the burst's transactions a block or so after they land
            burst_system, _ = await _fees(stack, stack.network.contracts["automation"], (burst_upkeep,))
            if burst_system:
                break
            await asyncio.sleep(block_seconds)
        return _report(
            minutes=minutes,
            block_seconds=block_seconds,
            cron_late=cron_late,
            event_late=event_late,
            condition_late=condition_late,
            pings=len(ping_blocks),
            arms=len(arm_blocks),
            burst=burst,
            burst_done=len(done),
            burst_blocks=(max(done) - burst_block) if done else None,
            burst_per_block=Counter(b - burst_block for b in done),
            gas_used=gas_used,
            charged=charged,
            system=system,
            network=network,
            burst_system=burst_system,
        )
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)


def _report(**r: Any) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    median = statistics.median
    lines = [
        f"## Automation — {when} ({platform.node() or 'vm'}, {platform.machine()}, {os.cpu_count()} cores,"
        f" neo-go 0.120 single node, {r['block_seconds']:g} s blocks, one `nsl worker`, SQLite; one run of"
        f" {r['minutes']:g} min)",
        "",
        "Lateness: blocks from the block an occurrence became due in to the block that performed it (1 = the"
        " next block).",
        "",
        "| trigger | lateness (blocks) |",
        "| --- | --- |",
        f"| cron `* * * * *` (due: first block at or after the minute) | {_spread(r['cron_late'])} |",
        f"| event (`ping(1)`, `arm()` in turn every few blocks; {r['pings']} pings)"
        f" | {_spread(r['event_late'])} |",
        f"| condition (checked every block; {r['arms']} arms) | {_spread(r['condition_late'])} |",
        "",
        f"Burst: {r['burst']} matching notifications in one block → {r['burst_done']} performed, the last"
        f" {r['burst_blocks']} block(s) after the event's block (runs per block after it:"
        f" {dict(sorted(r['burst_per_block'].items()))}).",
        "",
        "GAS per run (median): "
        f"target {median(r['gas_used']):.4f}, charged to the upkeep {median(r['charged']):.4f}"
        " (target + baseFee 0.1);"
        f" the operator's perform transaction: system fee {median(r['system']):.4f} and network fee"
        f" {median(r['network']):.4f} per run alone or in small groups, system fee"
        f" {median(r['burst_system']) if r['burst_system'] else float('nan'):.4f}"
        " per run in the burst's batches.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--block-time", type=float, default=1.0)
    args = parser.parse_args()
    print(asyncio.run(run(args.minutes, args.burst, args.block_time)))


if __name__ == "__main__":
    main()
