"""Helpers of the automation end-to-end tests: the example target, upkeeps registered by the committee
account, and what the chain says about runs (``Ticked`` of the target, ``UpkeepPerformed``)."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint, uint160
from neo_service_layer.kernel.chain.adapters.privnet import Privnet, PrivnetSettings
from neo_service_layer.services.automation.rules.triggers import Trigger, to_spec
from tests.e2e.chain.chaos_processes import stop_when_persisted
from tests.e2e.chain.stack import Stack, call

#: per-run GAS limit of the tests' upkeeps (the target's tick burns far less)
GAS_LIMIT = deploy.GAS
#: what each test upkeep is funded with
FUND = 10 * deploy.GAS


@dataclass(frozen=True)
class Tick:
    """One ``Ticked`` of the target: a run as the target saw it."""

    block: int
    upkeep_id: int
    occurrence: int
    count: int
    data: bytes


def automation(stack: Stack) -> types.UInt160:
    return uint160(stack.network.contracts["automation"])


async def deploy_target(stack: Stack) -> types.UInt160:
    nef, manifest = artifact("automation_target")
    return await deploy.deploy_contract(stack.committee, nef, manifest, automation(stack))


async def register(
    stack: Stack,
    target: types.UInt160,
    trigger: Trigger,
    *,
    method: str = "tick",
    gas_limit: int = GAS_LIMIT,
    catch_up: int = 0,
    fund: int = FUND,
) -> int:
    """Register an upkeep owned by the committee account and fund it; its id."""
    kind, spec = to_spec(trigger)
    receipt = await stack.committee.invoke(
        call(
            automation(stack),
            "registerUpkeep",
            stack.committee.script_hash,
            target,
            method,
            [],
            int(kind),
            spec,
            gas_limit,
            catch_up,
        )
    )
    upkeep_id = int(receipt.result.stack[0].as_int())
    if fund:
        await fund_upkeep(stack, upkeep_id, fund)
    return upkeep_id


async def fund_upkeep(stack: Stack, upkeep_id: int, amount: int) -> None:
    await stack.committee.invoke(
        call(
            CONTRACT_HASHES.GAS_TOKEN,
            "transfer",
            stack.committee.script_hash,
            automation(stack),
            amount,
            upkeep_id,
        )
    )


async def owner_call(stack: Stack, method: str, *args: Any) -> Any:
    """Send an owner call (pause, resume, cancel, withdraw) on the automation contract."""
    return await stack.committee.invoke(call(automation(stack), method, *args))


async def events(
    stack: Stack, contract: str, name: str, first_block: int
) -> list[tuple[int, tuple[Any, ...]]]:
    """(block, values) of each HALTed ``name`` notification of ``contract`` since ``first_block``."""
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    found = []
    try:
        head = await endpoint.client.get_block_count() - 1
        for index in range(first_block, head + 1):
            block_events, _ = await endpoint.block_events(index, contract)
            found += [(index, e.values) for e in block_events if e.name == name and e.halted]
    finally:
        await endpoint.close()
    return found


async def ticks(stack: Stack, target: types.UInt160, first_block: int) -> list[Tick]:
    found = await events(stack, "0x" + str(target), "Ticked", first_block)
    return [Tick(block, int(v[0]), int(v[1]), int(v[2]), bytes(v[3] or b"")) for block, v in found]


async def block_time(stack: Stack, index: int) -> int:
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    try:
        return int((await endpoint.block_time(index)).timestamp())
    finally:
        await endpoint.close()


async def height(stack: Stack) -> int:
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    try:
        return int(await endpoint.client.get_block_count()) - 1
    finally:
        await endpoint.close()


async def restart_node(stack: Stack) -> None:
    """SIGKILL the node with every block it made on disk, then start it again on its data."""
    net = stack.net
    await stop_when_persisted(net)
    assert net.pid is not None
    os.kill(net.pid, signal.SIGKILL)
    await net.stop()
    restarted = Privnet(
        PrivnetSettings(data_dir=net.data_dir, rpc_port=net.rpc_port, block_time=net.settings.block_time)
    )
    await restarted.start()
    stack.net = restarted
