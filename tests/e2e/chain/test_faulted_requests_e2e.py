"""A request made in a transaction that FAULTs is never stored nor answered (real neo-go chain, real
enclave, the real worker).

``aborting_consumer.requestThenAbort`` calls the randomness contract's ``request`` (which emits
``RandomnessRequested``) and then ABORTs. The transaction is included with state FAULT: the contract's
storage changes are rolled back (no request stored, no fee taken, the request id handed to the next
request) but the application log still lists the notification.
"""

from __future__ import annotations

from typing import Any

import pytest
from neo3.core import types
from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint, hash_text
from neo_service_layer.kernel.chain.ports.chain import BlockEvents
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.chain.use_cases.watcher import NOT_HALTED, ChainWatcher
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from tests.e2e.chain.stack import InProcessWorker, Stack, call, sql

pytestmark = [pytest.mark.chain, pytest.mark.slow]


async def request_then_abort(stack: Stack, consumer: types.UInt160) -> tuple[Any, int]:
    """Send the FAULTing request; (receipt, the request id its logged event announces)."""
    receipt = await stack.committee.invoke(
        call(consumer, "requestThenAbort", 1), append_system_fee=deploy.GAS // 20, allow_fault=True
    )
    assert receipt.state == "FAULT"
    assert "consumer aborts after requesting" in (receipt.exception or "")
    logged = [
        n
        for n in receipt.notifications
        if n.contract == stack.service and n.event_name == "RandomnessRequested"
    ]
    assert len(logged) == 1, "the FAULTed transaction's log still lists the request event"
    return receipt, logged[0].state.as_list()[0].as_int()


async def test_a_request_in_a_faulted_transaction_is_never_stored_nor_answered(stack: Stack) -> None:
    aborting = await stack.deploy_consumer("aborting_consumer")
    dice = await stack.deploy_consumer("dice_consumer")
    async with InProcessWorker(stack.settings):
        faulted, ghost_id = await request_then_abort(stack, aborting)
        # the real request that follows gets the same id (the FAULT rolled the counter back)
        roll = await stack.committee.invoke(call(dice, "roll"), append_system_fee=deploy.GAS // 20)
        rid = roll.result.stack[0].as_int()
        assert rid == ghost_id
        assert roll.included_in_block > faulted.included_in_block
        row = await stack.wait_status(rid, RequestStatus.DELIVERED)
    # the stored request is the dice roll's: its transaction, its consumer, its seed
    assert row.request_tx == hash_text(roll.tx_hash)
    assert row.consumer == hash_text(dice)
    seed = next(n for n in roll.notifications if n.event_name == "RandomnessRequested").state.as_list()[3]
    assert row.asked.seed == seed.as_bytes()
    stored = await sql(stack, "SELECT request_id, request_tx FROM chain_requests")
    assert [(r[0], r[1]) for r in stored] == [(rid, hash_text(roll.tx_hash))]
    assert hash_text(faulted.tx_hash) not in {r[1] for r in stored}
    # never answered: one fulfilment on chain (the dice's), no callback to the aborting consumer
    assert await stack.fulfilled_events(faulted.included_in_block) == {rid: 1}
    assert (await stack.read(aborting, "calls")).as_int() == 0
    assert (await stack.read(dice, "getRoll", rid)).as_int() in range(1, 7)


class LogOnlyChain:
    """The chain as a node without ``getblocknotifications`` shows it (C#): events from application
    logs, each with its execution's ``vmstate``."""

    def __init__(self, endpoint: NeoRpcEndpoint) -> None:
        endpoint.block_notifications_supported = False
        self._endpoint = endpoint

    async def height(self) -> int:
        return int(await self._endpoint.client.get_block_count()) - 1

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        events, _ = await self._endpoint.block_events(index, contract)
        return BlockEvents(index, None, tuple(events))


async def test_the_watcher_drops_and_counts_a_faulted_request_read_from_application_logs(
    stack: Stack,
) -> None:
    aborting = await stack.deploy_consumer("aborting_consumer")
    faulted, ghost_id = await request_then_abort(stack, aborting)
    block = faulted.included_in_block
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    try:
        # neo-go's getblocknotifications leaves a FAULTed execution's notifications out on the node
        assert (await endpoint.block_events(block, stack.contract))[0] == []
        chain = LogOnlyChain(endpoint)
        # the application log has it, marked with the execution's state
        logged = (await chain.block_events(block, stack.contract)).events
        assert [(e.name, e.vmstate, e.tx_hash) for e in logged] == [
            ("RandomnessRequested", "FAULT", hash_text(faulted.tx_hash))
        ]
        registry = CollectorRegistry()
        store = stack.requests(RandomnessPayloads())
        watcher = ChainWatcher(
            chain,  # type: ignore[arg-type]  # the two methods the watcher uses
            store,
            SystemClock(),
            ChainMetrics(registry),
            service=randomness.SERVICE,
            contract=stack.contract,
            decode=randomness.decode_events,
            start_block=block,
        )
        result = await watcher.poll()
    finally:
        await endpoint.close()
    assert result.cursor is not None
    assert result.cursor >= block
    assert result.transitions == ()
    assert await store.get(randomness.SERVICE, stack.contract, ghost_id) is None
    dropped = registry.get_sample_value(
        "nsl_chain_events_dropped_total", {"service": randomness.SERVICE, "reason": NOT_HALTED}
    )
    assert dropped == 1
