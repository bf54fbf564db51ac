"""Automation on a real neo-go chain with the real enclave: every trigger kind runs, once per occurrence;
the contract refuses forged and foreign calls; cancelling refunds the owner."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from neo3.contracts.contract import CONTRACT_HASHES

from neo_service_layer.bootstrap import create_app
from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.services.automation.adapters.upkeep_store import SqlUpkeepStore
from neo_service_layer.services.automation.rules.cron import cron_matches, parse_cron
from neo_service_layer.services.automation.rules.stack_items import serialize
from neo_service_layer.services.automation.rules.triggers import (
    ArgFilter,
    ConditionTrigger,
    CronTrigger,
    EventTrigger,
    IntervalBlocksTrigger,
    IntervalSecondsTrigger,
    TriggerKind,
)
from tests.e2e.chain.automation_support import (
    FUND,
    GAS_LIMIT,
    Tick,
    automation,
    block_time,
    deploy_target,
    fund_upkeep,
    height,
    owner_call,
    register,
    ticks,
)
from tests.e2e.chain.stack import InProcessWorker, Stack, call, tenant_api_key, wait_for
from tests.http.appclient import app_client

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def _by_upkeep(found: list[Tick]) -> dict[int, list[Tick]]:
    grouped: dict[int, list[Tick]] = {}
    for tick in found:
        grouped.setdefault(tick.upkeep_id, []).append(tick)
    return grouped


async def test_every_trigger_kind_runs_once_per_occurrence(stack: Stack) -> None:
    target = await deploy_target(stack)
    start = await height(stack)
    contract_hex = "0x" + str(target)
    cron = await register(stack, target, CronTrigger.parse("* * * * *"))
    seconds = await register(stack, target, IntervalSecondsTrigger(10))
    blocks = await register(stack, target, IntervalBlocksTrigger(20))
    every_ping = await register(stack, target, EventTrigger(contract_hex, "Ping"))
    third_ping = await register(stack, target, EventTrigger(contract_hex, "Ping", (ArgFilter(0, b"\x03"),)))
    condition = await register(stack, target, ConditionTrigger("ready", 1), method="consume")

    async with InProcessWorker(stack.settings):
        ping = await stack.committee.invoke(call(target, "ping", 5))
        await stack.committee.invoke(call(target, "arm"))

        async def enough() -> bool:
            got = Counter(t.upkeep_id for t in await ticks(stack, target, start))
            return (
                got[cron] >= 1
                and got[seconds] >= 2
                and got[blocks] >= 3
                and got[every_ping] >= 5
                and got[condition] >= 1
            )

        await wait_for(enough, 90, "a run of every trigger kind")
        await stack.committee.invoke(call(target, "arm"))  # armed again: exactly one more run

        async def second_condition() -> bool:
            return Counter(t.upkeep_id for t in await ticks(stack, target, start))[condition] >= 2

        await wait_for(second_condition, 20, "the condition's second run")

    runs = _by_upkeep(await ticks(stack, target, start))
    for upkeep_id, found in runs.items():  # once per occurrence, whatever the trigger
        occurrences = [t.occurrence for t in found]
        assert len(occurrences) == len(set(occurrences)), (upkeep_id, occurrences)

    # events: one run per matching notification, in the blocks after the event's block, with its values
    pings = runs[every_ping]
    assert len(pings) == 5
    assert sorted(t.occurrence % 1_000_000 for t in pings) == [0, 1, 2, 3, 4]
    assert all(t.occurrence // 1_000_000 == ping.included_in_block for t in pings)
    assert all(t.block > ping.included_in_block for t in pings)
    assert sorted(t.data for t in pings) == sorted(serialize((i, b"ping")) for i in range(5))
    [third] = runs[third_ping]
    assert third.data == serialize((3, b"ping"))
    restored = await stack.read(CONTRACT_HASHES.STD_LIB, "deserialize", third.data)
    assert [item.value for item in restored.value] == [3, b"ping"]  # what the target would read back

    # condition: each arm() gave exactly one run, with the check's data
    assert len(runs[condition]) == 2
    assert {t.data for t in runs[condition]} == {b"armed"}

    # cron: a matching minute, run after the first block whose time reached it
    schedule = parse_cron("* * * * *")
    for tick in runs[cron]:
        assert tick.occurrence % 60 == 0
        assert cron_matches(schedule, tick.occurrence)
        assert await block_time(stack, tick.block - 1) >= tick.occurrence
    # intervals: consecutive steps of the trigger, none skipped
    seconds_occ = sorted(t.occurrence for t in runs[seconds])
    assert all(b - a == 10 for a, b in itertools.pairwise(seconds_occ))
    blocks_occ = sorted(t.occurrence for t in runs[blocks])
    assert all(b - a == 20 for a, b in itertools.pairwise(blocks_occ))
    assert all(t.block > t.occurrence for t in runs[blocks])

    # the status the owner reads: each run performed with its GAS; the condition's skips explained
    store = SqlUpkeepStore(stack.engine)
    contract = stack.network.contracts["automation"]
    rows = await store.runs(contract, every_ping, limit=10)
    assert {r.status for r in rows} == {RequestStatus.DELIVERED.value}
    assert all(
        r.gas_used and 0 < r.gas_used <= GAS_LIMIT and r.charged and r.charged > r.gas_used for r in rows
    )
    shown = await store.upkeep(contract, condition)
    assert shown is not None
    assert shown.skip_reason == "condition_false"
    assert shown.trigger == {"kind": "condition", "method": "ready", "every_blocks": 1}
    upkeep = (await stack.read(automation(stack), "getUpkeep", every_ping)).value
    await _status_over_http(stack, every_ping, condition)
    assert upkeep[11].value == FUND - sum(r.charged or 0 for r in rows)  # paid from its balance


async def test_forged_and_foreign_calls_are_refused_and_cancel_refunds(stack: Stack) -> None:
    target = await deploy_target(stack)
    upkeep = await register(stack, target, IntervalBlocksTrigger(1000), fund=3 * deploy.GAS)
    service = automation(stack)

    async def refused(contract: object, method: str, *args: object) -> str:
        with pytest.raises(deploy.ScriptFault) as fault:
            await stack.committee.invoke(call(contract, method, *args))  # type: ignore[arg-type]
        return str(fault.value.exception)

    # only the operator (the service's sender, its key in the enclave) performs
    assert "operator" in await refused(service, "perform", upkeep, 1_000, b"")
    # the target refuses whoever is not the automation contract
    assert "only the automation contract" in await refused(target, "tick")
    # an upkeep owned by the target contract: the committee account is not its owner
    receipt = await stack.committee.invoke(
        call(target, "registerSelf", "tick", int(TriggerKind.INTERVAL_BLOCKS), [1000], GAS_LIMIT)
    )
    foreign = int(receipt.result.stack[0].as_int())
    for method, args in (
        ("pauseUpkeep", (foreign,)),
        ("cancelUpkeep", (foreign,)),
        ("withdrawUpkeep", (foreign, stack.committee.script_hash, 1)),
        ("updateUpkeep", (foreign, "tick", [], 3, [5], GAS_LIMIT, 0)),
    ):
        assert "only the upkeep's owner" in await refused(service, method, *args)
    # a trigger the contract cannot honour is refused at registration
    assert "interval must be 10 s" in await refused(
        service, "registerUpkeep", stack.committee.script_hash, target, "tick", [], 2, [5], GAS_LIMIT, 0
    )
    assert "no such method" in await refused(
        service, "registerUpkeep", stack.committee.script_hash, target, "nope", [], 3, [5], GAS_LIMIT, 0
    )

    # the owner withdraws part, then cancels: the rest comes back, nothing can be added afterwards
    await owner_call(stack, "withdrawUpkeep", upkeep, stack.committee.script_hash, deploy.GAS)
    cancel = await owner_call(stack, "cancelUpkeep", upkeep)
    assert cancel.result.stack[0].as_int() == 2 * deploy.GAS
    # the refund is a GAS transfer from the automation contract to the owner
    refunds = [
        n.state.value
        for n in cancel.notifications
        if n.contract == CONTRACT_HASHES.GAS_TOKEN and n.event_name == "Transfer"
    ]
    assert [(r[0].value, r[1].value, r[2].value) for r in refunds] == [
        (service.to_array(), stack.committee.script_hash.to_array(), 2 * deploy.GAS)
    ]
    record = (await stack.read(service, "getUpkeep", upkeep)).value
    assert record[8].value == 3
    assert record[11].value == 0
    with pytest.raises(deploy.ScriptFault, match="cancelled"):
        await fund_upkeep(stack, upkeep, deploy.GAS)
    assert "not active" in await refused(service, "pauseUpkeep", upkeep)


async def _status_over_http(stack: Stack, performed: int, condition: int) -> None:
    """``GET /api/v1/automation/upkeeps/{id}`` with a viewer-scoped API key shows the runs and the skip."""
    key = await tenant_api_key(stack, "automation-e2e", ["automation:read"])
    async with app_client(create_app(stack.settings)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        shown = (await client.get(f"/api/v1/automation/upkeeps/{performed}", headers=headers)).json()
        assert shown["state"] == "active"
        assert shown["trigger"]["kind"] == "event"
        assert len(shown["runs"]) == 5
        assert {r["status"] for r in shown["runs"]} == {"delivered"}
        assert all(r["txHash"] and r["gasUsed"] and r["charged"] for r in shown["runs"])
        assert shown["runsLeft"] == shown["balance"] // (shown["gasLimit"] + shown["baseFee"])
        cond = (await client.get(f"/api/v1/automation/upkeeps/{condition}", headers=headers)).json()
        assert cond["lastSkip"]["reason"] == "condition_false"
        assert cond["nextDueBlock"] is not None
        listed = (
            await client.get("/api/v1/automation/upkeeps", headers=headers, params={"limit": 200})
        ).json()
        assert {performed, condition} <= {u["upkeepId"] for u in listed["upkeeps"]}
        missing = await client.get("/api/v1/automation/upkeeps/999999", headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        no_scope = await client.get("/api/v1/automation/upkeeps", headers={"Authorization": "Bearer nope"})
        assert no_scope.status_code == 401
