"""The automation contract on a real neo-go privnet: what ``perform`` refuses, whoever sends it.

The operator here is a test account (in production the service's sender, its key in the enclave). Each
test registers its own upkeep (owned by ``stranger``) on one shared deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import pytest_asyncio
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.services.automation.rules.triggers import (
    ConditionTrigger,
    CronTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    Trigger,
    to_spec,
)
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    UPDATE_DELAY,
    Chain,
    artifact,
    call,
    events,
    fault_of,
    stack,
    wait_for_height,
)

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS_LIMIT = deploy.GAS
BASE_FEE = deploy.GAS // 10  # service_funds' default
EVERY = 3


@dataclass
class Automation:
    contract: types.UInt160
    target: types.UInt160


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def automation(chain: Chain) -> Automation:
    nef, manifest = artifact("automation_service")
    owner, operator = chain.owner.script_hash, chain.operator.script_hash
    contract = await deploy.deploy_contract(
        chain.committee, nef, manifest, [owner, operator, UPDATE_DELAY, REFUND_BLOCKS]
    )
    nef, manifest = artifact("automation_target")
    target = await deploy.deploy_contract(chain.committee, nef, manifest, contract)
    return Automation(contract, target)


async def register(
    chain: Chain,
    a: Automation,
    trigger: Trigger,
    *,
    method: str = "tick",
    gas_limit: int = GAS_LIMIT,
    fund: int = 0,
) -> tuple[int, list[int]]:
    """Register (as ``stranger``) and fund; (upkey id, [state, sinceSeconds, sinceBlock])."""
    kind, spec = to_spec(trigger)
    receipt = await chain.stranger.invoke(
        call(
            a.contract,
            "registerUpkeep",
            [chain.stranger.script_hash, a.target, method, [], int(kind), spec, gas_limit, 0],
        )
    )
    upkeep = stack(receipt)[0].as_int()
    if fund:
        await chain.stranger.invoke(
            call(
                CONTRACT_HASHES.GAS_TOKEN, "transfer", [chain.stranger.script_hash, a.contract, fund, upkeep]
            )
        )
    record = (await chain.read(a.contract, "getUpkeep", upkeep)).as_list()
    return upkeep, [record[8].as_int(), record[9].as_int(), record[10].as_int()]


async def perform_fault(chain: Chain, a: Automation, upkeep: int, occurrence: int, data: bytes = b"") -> str:
    return fault_of(await chain.operator.test(call(a.contract, "perform", [upkeep, occurrence, data])))


async def perform(chain: Chain, a: Automation, upkeep: int, occurrence: int, data: bytes = b"") -> list[int]:
    receipt = await chain.operator.invoke(call(a.contract, "perform", [upkeep, occurrence, data]))
    (performed,) = events(receipt, "UpkeepPerformed")
    return [item.as_int() for item in performed]


async def test_an_occurrence_runs_once_and_only_when_due(chain: Chain, automation: Automation) -> None:
    upkeep, (_, _, since_block) = await register(
        chain, automation, IntervalBlocksTrigger(EVERY), fund=5 * deploy.GAS
    )
    first = since_block + EVERY
    assert "not due yet" in await perform_fault(chain, automation, upkeep, first + 100 * EVERY)
    assert "not on the interval" in await perform_fault(chain, automation, upkeep, first + 1)
    assert "before the upkeep started" in await perform_fault(chain, automation, upkeep, since_block)
    await wait_for_height(chain, first)
    upkeep_id, occurrence, gas_used, charged, balance = await perform(chain, automation, upkeep, first)
    assert (upkeep_id, occurrence) == (upkeep, first)
    assert 0 < gas_used <= GAS_LIMIT
    assert charged == gas_used + BASE_FEE
    assert balance == 5 * deploy.GAS - charged
    assert "already performed" in await perform_fault(chain, automation, upkeep, first)
    assert (await chain.read(automation.contract, "performed", upkeep, first)).as_bool()
    assert (await chain.read(automation.target, "lastRun")).as_list()[0].as_int() == upkeep


async def test_only_the_operator_performs_and_only_the_automation_contract_calls_the_target(
    chain: Chain, automation: Automation
) -> None:
    upkeep, (_, _, since_block) = await register(
        chain, automation, IntervalBlocksTrigger(1), fund=2 * deploy.GAS
    )
    await wait_for_height(chain, since_block + 1)
    for who in (chain.stranger, chain.owner):  # neither the upkeep's owner nor the service's owner
        forged = await who.test(call(automation.contract, "perform", [upkeep, since_block + 1, b""]))
        assert "only the operator" in fault_of(forged)
    direct = await chain.stranger.test(call(automation.target, "tick"))
    assert "only the automation contract" in fault_of(direct)


async def test_the_balance_the_gas_limit_and_pausing_are_enforced(
    chain: Chain, automation: Automation
) -> None:
    poor, (_, _, since_block) = await register(chain, automation, IntervalBlocksTrigger(1), fund=GAS_LIMIT)
    await wait_for_height(chain, since_block + 1)
    assert "balance too low" in await perform_fault(chain, automation, poor, since_block + 1)

    tight, (_, _, since_block) = await register(
        chain, automation, IntervalBlocksTrigger(1), gas_limit=deploy.GAS // 100, fund=deploy.GAS
    )
    await wait_for_height(chain, since_block + 1)
    assert "exceeded its gasLimit" in await perform_fault(chain, automation, tight, since_block + 1)

    paused, _ = await register(chain, automation, IntervalBlocksTrigger(1), fund=deploy.GAS)
    await chain.stranger.invoke(call(automation.contract, "pauseUpkeep", [paused]))
    height = (await chain.read(automation.contract, "getUpkeep", paused)).as_list()[10].as_int() + 1
    await wait_for_height(chain, height)
    assert "not active" in await perform_fault(chain, automation, paused, height)
    # resumed: its schedule starts again then, occurrences while paused never run
    await chain.stranger.invoke(call(automation.contract, "resumeUpkeep", [paused]))
    assert "before the upkeep started" in await perform_fault(chain, automation, paused, height)


async def test_cron_and_seconds_occurrences_must_match_the_schedule(
    chain: Chain, automation: Automation
) -> None:
    every_minute, (_, since, _) = await register(
        chain, automation, CronTrigger.parse("* * * * *"), fund=deploy.GAS
    )
    never_now, _ = await register(chain, automation, CronTrigger.parse("0 0 29 2 *"), fund=deploy.GAS)
    seconds, (_, seconds_since, _) = await register(
        chain, automation, IntervalSecondsTrigger(10), fund=deploy.GAS
    )
    minute = (since // 60 + 1) * 60
    assert "not due yet" in await perform_fault(chain, automation, every_minute, minute + 3600)
    assert "a cron occurrence is a minute" in await perform_fault(chain, automation, every_minute, minute + 1)
    assert "before the upkeep started" in await perform_fault(chain, automation, every_minute, minute - 120)
    assert "does not match the cron schedule" in await perform_fault(
        chain, automation, never_now, minute + 3600 * 24 * 400
    )
    assert "not on the interval" in await perform_fault(chain, automation, seconds, seconds_since + 15)
    assert "not due yet" in await perform_fault(chain, automation, seconds, seconds_since + 10 * 10_000)


async def test_a_condition_runs_only_while_it_holds_with_its_own_data(
    chain: Chain, automation: Automation
) -> None:
    upkeep, (_, _, since_block) = await register(
        chain, automation, ConditionTrigger("ready", 1), method="consume", fund=2 * deploy.GAS
    )
    await wait_for_height(chain, since_block + 2)
    assert "condition is false" in await perform_fault(chain, automation, upkeep, since_block + 1)
    receipt = await chain.stranger.invoke(call(automation.target, "arm"))
    await wait_for_height(chain, receipt.included_in_block)
    performed = await chain.operator.invoke(
        call(automation.contract, "perform", [upkeep, receipt.included_in_block, b"the operator's words"])
    )
    (ticked,) = events(performed, "Ticked")
    assert ticked[3].as_bytes() == b"armed"  # the check's data, not what the operator passed
    assert "condition is false" in await perform_fault(
        chain, automation, upkeep, receipt.included_in_block + 1
    )


async def test_only_the_owner_of_an_upkeep_manages_it(chain: Chain, automation: Automation) -> None:
    upkeep, _ = await register(chain, automation, IntervalBlocksTrigger(100), fund=deploy.GAS)
    for method, args in (
        ("pauseUpkeep", [upkeep]),
        ("cancelUpkeep", [upkeep]),
        ("withdrawUpkeep", [upkeep, chain.owner.script_hash, 1]),
        ("updateUpkeep", [upkeep, "tick", [], 3, [5], GAS_LIMIT, 0]),
    ):
        for who in (chain.owner, chain.operator):  # the service's owner and operator included
            assert "only the upkeep's owner" in fault_of(
                await who.test(call(automation.contract, method, args))
            )
    refund = await chain.stranger.invoke(call(automation.contract, "cancelUpkeep", [upkeep]))
    assert stack(refund)[0].as_int() == deploy.GAS
