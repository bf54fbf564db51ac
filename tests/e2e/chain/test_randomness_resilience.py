"""Crash safety, node restarts and several workers: every request fulfilled exactly once."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import pytest
from neo3.core import types

from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings
from neo_service_layer.kernel.chain.rules import RequestStatus
from tests.e2e.chain.stack import BLOCK_TIME, InProcessWorker, Stack, close_stack, open_stack, sql, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]


async def roll_many(stack: Stack, dice: types.UInt160, n: int) -> list[int]:
    """``n`` rolls in as few blocks as possible (sent concurrently)."""
    results = await asyncio.gather(*(stack.roll(dice) for _ in range(n)))
    return [rid for rid, _block in results]


async def assert_exactly_once(stack: Stack, ids: list[int], first_block: int) -> None:
    for rid in ids:
        row = await stack.wait_status(rid, RequestStatus.DELIVERED, timeout=30)
        assert row.fulfilled_block is not None
    counts = await stack.fulfilled_events(first_block)
    assert {rid: counts.get(rid, 0) for rid in ids} == dict.fromkeys(ids, 1)


async def test_a_worker_killed_after_writing_the_outbox_fulfils_once_after_restart(stack: Stack) -> None:
    dice = await stack.deploy_consumer("dice_consumer")
    first_block = stack.network.deployed_height
    worker = stack.start_worker()
    ids = await roll_many(stack, dice, 5)

    async def outbox_written() -> bool:
        return bool(await sql(stack, "SELECT 1 FROM chain_outbox"))

    await wait_for(outbox_written, 20, "the first outbox row")
    worker.kill()  # SIGKILL: no clean-up, between writing the transaction and seeing it confirmed
    worker.wait(timeout=10)
    pending = await sql(stack, "SELECT request_id, status FROM chain_requests WHERE status != 'delivered'")
    assert pending, "the kill must land before every request was confirmed"
    stack.start_worker()
    await assert_exactly_once(stack, ids, first_block)


async def test_the_watcher_resumes_after_the_node_and_the_worker_were_down(stack: Stack) -> None:
    dice = await stack.deploy_consumer("dice_consumer")
    first_block = stack.network.deployed_height
    async with InProcessWorker(stack.settings):
        (before,) = await roll_many(stack, dice, 1)
        await stack.wait_status(before, RequestStatus.DELIVERED)
        await stack.net.stop()  # the node goes away under a running worker
        await asyncio.sleep(0.5)
        restarted = Privnet(
            PrivnetSettings(data_dir=stack.net.data_dir, rpc_port=stack.net.rpc_port, block_time=BLOCK_TIME)
        )
        await restarted.start()
        stack.net = restarted
        (during,) = await roll_many(stack, dice, 1)
    (offline,) = await roll_many(stack, dice, 1)  # no worker runs: only the cursor remembers
    for _ in range(5):
        await roll_many(stack, dice, 0)
    await asyncio.sleep(1.0)  # several blocks pass
    async with InProcessWorker(stack.settings):
        await assert_exactly_once(stack, [before, during, offline], first_block)


async def _two_workers(stack: Stack) -> None:
    dice = await stack.deploy_consumer("dice_consumer")
    first_block = stack.network.deployed_height
    stack.start_worker()
    stack.start_worker()
    ids = await roll_many(stack, dice, 30)
    await assert_exactly_once(stack, ids, first_block)
    failed = await sql(stack, "SELECT request_id FROM chain_requests WHERE status = 'failed'")
    assert failed == []  # no worker ever raced another into a faulting dry-run


async def test_two_workers_on_one_sqlite_database_fulfil_each_request_once(stack: Stack) -> None:
    await _two_workers(stack)


@pytest.fixture
async def postgres_stack(postgres_url: str, contracts_built: None) -> AsyncIterator[Stack]:
    opened = await open_stack(database_url=postgres_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        yield opened
    finally:
        await close_stack(opened)
        shutil.rmtree(opened.directory, ignore_errors=True)


@pytest.mark.postgres
async def test_two_workers_on_postgresql_fulfil_each_request_once(postgres_stack: Stack) -> None:
    await _two_workers(postgres_stack)
