"""The shared funds and owner rules (``kernel/chain/contracts/service_funds.py``, ``service_admin.py``)
through the randomness service on a real neo-go privnet: consumers' balances are theirs, fees are held
in escrow until answered and refunded after the timeout, and the owner's update/destroy wait the delay."""

from __future__ import annotations

import hashlib

import pytest
from neo3.api import noderpc
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.wallet import account

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.services.randomness.rules import RandomnessContractState
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    UPDATE_DELAY,
    Chain,
    Deployment,
    LocalRandomnessKeys,
    artifact,
    call,
    deploy_service,
    events,
    fault_of,
    fulfilment_args,
    request_via_faulty,
    stack,
    wait_for_height,
)

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS


async def read_int(chain: Chain, d: Deployment, method: str, *args: object) -> int:
    return (await chain.read(d.service, method, *args)).as_int()


# ---------------------------------------------------------------------------------------------------------
# balances


async def test_an_account_withdraws_its_own_balance_and_nobody_else_can(
    chain: Chain, deployed: Deployment
) -> None:
    d, me = deployed, chain.stranger.script_hash
    await chain.stranger.invoke(call(CONTRACT_HASHES.GAS_TOKEN, "transfer", [me, d.service, 2 * GAS, None]))
    balance = await read_int(chain, d, "balanceOf", me)
    assert balance >= 2 * GAS
    for other in (chain.owner, chain.operator, chain.committee):
        taken = await other.test(call(d.service, "withdraw", [me, other.script_hash, 1]))
        assert "only the consumer may withdraw its balance" in fault_of(taken)
    too_much = await chain.stranger.test(call(d.service, "withdraw", [me, me, balance + 1]))
    assert "amount exceeds the balance" in fault_of(too_much)

    before = await deploy.gas_balance(chain.facade, chain.owner.script_hash)
    receipt = await chain.stranger.invoke(call(d.service, "withdraw", [me, chain.owner.script_hash, GAS]))
    (withdrawn,) = events(receipt, "BalanceWithdrawn")
    assert [withdrawn[0].as_uint160(), withdrawn[2].as_int()] == [me, GAS]
    assert await read_int(chain, d, "balanceOf", me) == balance - GAS
    assert await deploy.gas_balance(chain.facade, chain.owner.script_hash) == before + GAS


async def test_a_contract_consumer_withdraws_through_its_own_call(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    balance = await read_int(chain, d, "balanceOf", d.dice)
    direct = await chain.committee.test(call(d.service, "withdraw", [d.dice, chain.committee.script_hash, 1]))
    assert "only the consumer may withdraw its balance" in fault_of(direct)
    refused = await chain.stranger.test(call(d.dice, "withdraw", [chain.stranger.script_hash, 1]))
    assert "only the owner may do this" in fault_of(refused)  # the dice's own rule

    before = await deploy.gas_balance(chain.facade, chain.stranger.script_hash)
    receipt = await chain.committee.invoke(call(d.dice, "withdraw", [chain.stranger.script_hash, GAS]))
    assert stack(receipt)[0].as_bool() is True
    assert await read_int(chain, d, "balanceOf", d.dice) == balance - GAS
    assert await deploy.gas_balance(chain.facade, chain.stranger.script_hash) == before + GAS


# ---------------------------------------------------------------------------------------------------------
# escrow and refunds


async def test_the_fee_is_escrowed_at_request_and_earned_at_fulfilment(
    chain: Chain, deployed: Deployment
) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    fee = await read_int(chain, d, "fee")
    balance, escrowed, collected = (
        await read_int(chain, d, "balanceOf", d.faulty),
        await read_int(chain, d, "escrowedFees"),
        await read_int(chain, d, "collectedFees"),
    )
    request_id, seed = await request_via_faulty(chain, d)
    assert await read_int(chain, d, "balanceOf", d.faulty) == balance - fee
    assert await read_int(chain, d, "escrowOf", request_id) == fee
    assert await read_int(chain, d, "escrowedFees") == escrowed + fee
    assert await read_int(chain, d, "collectedFees") == collected

    f = d.sign(request_id, seed)
    await chain.stranger.invoke(call(d.service, "fulfill", [request_id, *fulfilment_args(f)]))
    assert await read_int(chain, d, "balanceOf", d.faulty) == balance - fee
    assert await read_int(chain, d, "escrowOf", request_id) == 0
    assert await read_int(chain, d, "escrowedFees") == escrowed
    assert await read_int(chain, d, "collectedFees") == collected + fee


async def test_an_unanswered_request_is_refunded_after_the_timeout_and_never_fulfilled(
    chain: Chain, deployed: Deployment
) -> None:
    d = deployed
    fee = await read_int(chain, d, "fee")
    balance = await read_int(chain, d, "balanceOf", d.faulty)
    receipt = await chain.stranger.invoke(call(d.faulty, "requestRandom", [1, b""]))
    (requested,) = events(receipt, "RandomnessRequested")
    request_id, seed = requested[0].as_int(), requested[3].as_bytes()
    made_at = receipt.included_in_block
    assert made_at is not None

    early = await chain.stranger.test(call(d.service, "refund", [request_id]))
    assert "the request may still be answered: refund later" in fault_of(early)
    await wait_for_height(chain, made_at + REFUND_BLOCKS)
    receipt = await chain.stranger.invoke(call(d.service, "refund", [request_id]))  # anyone may
    (refunded,) = events(receipt, "FeeRefunded")
    assert [refunded[0].as_int(), refunded[1].as_uint160(), refunded[2].as_int()] == [
        request_id,
        d.faulty,
        fee,
    ]
    assert await read_int(chain, d, "balanceOf", d.faulty) == balance
    assert await read_int(chain, d, "escrowOf", request_id) == 0
    state = (await chain.read(d.service, "getRequest", request_id)).as_list()[0].as_int()
    assert state == RandomnessContractState.REFUNDED

    late = call(d.service, "fulfill", [request_id, *fulfilment_args(d.sign(request_id, seed))])
    assert "request is not pending" in fault_of(await chain.stranger.test(late))
    again = await chain.stranger.test(call(d.service, "refund", [request_id]))
    assert "only a pending request can be refunded" in fault_of(again)


async def test_an_answered_request_cannot_be_refunded(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    request_id, seed = await request_via_faulty(chain, d)
    await chain.stranger.invoke(
        call(d.service, "fulfill", [request_id, *fulfilment_args(d.sign(request_id, seed))])
    )
    refused = await chain.stranger.test(call(d.service, "refund", [request_id]))
    assert "only a pending request can be refunded" in fault_of(refused)


async def test_the_callback_gas_cap_is_bounded_and_owner_set(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    for cap, reason in ((0, "must be positive"), (20 * GAS + 1, "at most 20 GAS")):
        assert reason in fault_of(await chain.owner.test(call(d.service, "setCallbackGasCap", [cap])))
    await chain.owner.invoke(call(d.service, "setCallbackGasCap", [GAS]))
    try:
        assert await read_int(chain, d, "fee") == (await read_int(chain, d, "baseFee")) + GAS
    finally:
        await chain.owner.invoke(call(d.service, "setCallbackGasCap", [50_000_000]))


# ---------------------------------------------------------------------------------------------------------
# roles: the owner administers, the operator (the hot sender) only marks failed callbacks


async def test_owner_only_functions_refuse_others_and_the_operator(
    chain: Chain, deployed: Deployment
) -> None:
    """The hot sender (operator) can administer nothing: only the cold owner can."""
    d = deployed
    nef, manifest = artifact("randomness_service")
    keys = LocalRandomnessKeys()
    for who in (chain.stranger, chain.operator):
        for method, args in (
            ("setFee", [1]),
            ("setCallbackGasCap", [1]),
            ("setOperator", [who.script_hash]),
            ("rotateKey", [keys.public_key, keys.bls_public_key, 0]),
            ("withdrawFees", [who.script_hash, 1]),
            ("pause", []),
            ("unpause", []),
            ("scheduleUpdate", [bytes(32), bytes(32)]),
            ("cancelUpdate", []),
            ("update", [nef.read_bytes(), manifest.read_text()]),
            ("scheduleDestroy", []),
            ("cancelDestroy", []),
            ("destroy", []),
        ):
            receipt = await who.test(call(d.service, method, args))
            assert "only the owner may do this" in fault_of(receipt), method
    refused = await chain.stranger.test(call(d.service, "markCallbackFailed", [0, "x"]))
    assert "only the operator may do this" in fault_of(refused)


async def test_fee_change_and_withdrawal_of_earned_fees(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.owner.invoke(call(d.service, "setFee", [25_000_000]))
    assert (await chain.read(d.service, "fee")).as_int() == 75_000_000
    balance = (await chain.read(d.service, "balanceOf", d.faulty)).as_int()
    request_id, seed = await request_via_faulty(chain, d)
    assert (await chain.read(d.service, "balanceOf", d.faulty)).as_int() == balance - 75_000_000
    assert "fee must not be negative" in fault_of(await chain.owner.test(call(d.service, "setFee", [-1])))
    await chain.owner.invoke(call(d.service, "setFee", [10_000_000]))
    await chain.stranger.invoke(
        call(d.service, "fulfill", [request_id, *fulfilment_args(d.sign(request_id, seed))])
    )

    collected = (await chain.read(d.service, "collectedFees")).as_int()
    assert collected >= 75_000_000
    too_much = call(d.service, "withdrawFees", [chain.stranger.script_hash, collected + 1])
    assert "amount exceeds collected fees" in fault_of(await chain.owner.test(too_much))
    before = await deploy.gas_balance(chain.facade, chain.stranger.script_hash)
    await chain.owner.invoke(call(d.service, "withdrawFees", [chain.stranger.script_hash, collected]))
    assert await deploy.gas_balance(chain.facade, chain.stranger.script_hash) == before + collected
    assert (await chain.read(d.service, "collectedFees")).as_int() == 0
    # consumers' prepaid balances and escrow are not the owner's
    assert "amount exceeds collected fees" in fault_of(
        await chain.owner.test(call(d.service, "withdrawFees", [chain.stranger.script_hash, 1]))
    )
    assert "only the consumer" in fault_of(
        await chain.owner.test(call(d.service, "withdraw", [d.faulty, chain.owner.script_hash, 1]))
    )


# ---------------------------------------------------------------------------------------------------------
# owner delay


async def fresh_service(chain: Chain) -> Deployment:
    """A service of its own (a new deployer each time: the same deployer and NEF give the same hash)."""
    keys = LocalRandomnessKeys()
    deployer = chain.invoker(account.Account.create_new())
    await deploy.fund(chain.committee, deployer.script_hash, 50 * GAS)
    service = await deploy_service(
        chain, deployer, chain.owner.script_hash, keys, operator=chain.operator.script_hash
    )
    return Deployment(service, service, service, keys, chain.net.magic)


async def test_deploy_refuses_a_delay_or_refund_timeout_out_of_bounds(chain: Chain) -> None:
    keys = LocalRandomnessKeys()
    for delay, refund, reason in (
        (0, REFUND_BLOCKS, "update delay is below the minimum"),
        (172_801, REFUND_BLOCKS, "update delay is above the maximum"),
        (UPDATE_DELAY, 0, "refund timeout is below the minimum"),
    ):
        with pytest.raises(deploy.ScriptFault, match=reason):
            await deploy_service(
                chain, chain.stranger, chain.owner.script_hash, keys, delay=delay, refund_blocks=refund
            )


async def test_an_update_waits_the_announced_delay_and_takes_only_the_announced_code(
    chain: Chain, deployed: Deployment
) -> None:
    del deployed
    d = await fresh_service(chain)
    nef, manifest = artifact("randomness_service")
    other_nef, _ = artifact("dice_consumer")
    code = [nef.read_bytes(), manifest.read_text()]
    hashes = [hashlib.sha256(nef.read_bytes()).digest(), hashlib.sha256(manifest.read_bytes()).digest()]
    unscheduled = await chain.owner.test(call(d.service, "update", code))
    assert "no update is scheduled" in fault_of(unscheduled)

    receipt = await chain.owner.invoke(call(d.service, "scheduleUpdate", hashes))
    (scheduled,) = events(receipt, "UpdateScheduled")
    effective = scheduled[2].as_int()
    assert receipt.included_in_block is not None
    assert effective == receipt.included_in_block - 1 + UPDATE_DELAY
    assert stack(receipt)[0].as_int() == effective
    listed = (await chain.read(d.service, "scheduledUpdate")).as_list()
    assert [listed[0].as_bytes(), listed[1].as_bytes(), listed[2].as_int()] == [*hashes, effective]

    early = await chain.owner.test(call(d.service, "update", code))
    assert "the update delay has not passed" in fault_of(early)
    await wait_for_height(chain, effective)
    wrong_nef = await chain.owner.test(call(d.service, "update", [other_nef.read_bytes(), code[1]]))
    assert "nef does not match the schedule" in fault_of(wrong_nef)
    wrong_manifest = await chain.owner.test(call(d.service, "update", [code[0], manifest.read_text() + " "]))
    assert "manifest does not match the schedule" in fault_of(wrong_manifest)
    assert "only the owner" in fault_of(await chain.operator.test(call(d.service, "update", code)))

    await chain.owner.invoke(call(d.service, "update", code))
    async with noderpc.NeoRpcClient(chain.net.rpc_url) as client:
        assert (await client.get_contract_state(d.service)).update_counter == 1
    assert (await chain.read(d.service, "publicKey")).as_bytes() == d.keys.public_key  # storage kept
    assert (await chain.read(d.service, "scheduledUpdate")).as_list()[2].as_int() == 0
    again = await chain.owner.test(call(d.service, "update", code))
    assert "no update is scheduled" in fault_of(again)


async def test_a_cancelled_update_is_never_applied(chain: Chain, deployed: Deployment) -> None:
    del deployed
    d = await fresh_service(chain)
    nef, manifest = artifact("randomness_service")
    hashes = [hashlib.sha256(nef.read_bytes()).digest(), hashlib.sha256(manifest.read_bytes()).digest()]
    receipt = await chain.owner.invoke(call(d.service, "scheduleUpdate", hashes))
    effective = stack(receipt)[0].as_int()
    cancelled = await chain.owner.invoke(call(d.service, "cancelUpdate"))
    assert len(events(cancelled, "UpdateCancelled")) == 1
    await wait_for_height(chain, effective)
    refused = await chain.owner.test(call(d.service, "update", [nef.read_bytes(), manifest.read_text()]))
    assert "no update is scheduled" in fault_of(refused)


async def test_destroy_waits_the_announced_delay(chain: Chain, deployed: Deployment) -> None:
    del deployed
    d = await fresh_service(chain)
    assert "no destroy is scheduled" in fault_of(await chain.owner.test(call(d.service, "destroy")))
    receipt = await chain.owner.invoke(call(d.service, "scheduleDestroy"))
    (scheduled,) = events(receipt, "DestroyScheduled")
    effective = scheduled[0].as_int()
    assert (await chain.read(d.service, "scheduledDestroy")).as_int() == effective
    early = await chain.owner.test(call(d.service, "destroy"))
    assert "the destroy delay has not passed" in fault_of(early)
    await wait_for_height(chain, effective)
    assert "only the owner" in fault_of(await chain.operator.test(call(d.service, "destroy")))
    await chain.owner.invoke(call(d.service, "destroy"))
    gone = await chain.stranger.test(call(d.service, "fee"))
    assert gone.result.state == "FAULT"


async def test_the_owner_moves_the_operator(chain: Chain, deployed: Deployment) -> None:
    del deployed
    d = await fresh_service(chain)
    receipt = await chain.owner.invoke(call(d.service, "setOperator", [chain.stranger.script_hash]))
    assert [e[0].as_uint160() for e in events(receipt, "OperatorChanged")] == [chain.stranger.script_hash]
    assert (await chain.read(d.service, "operator")).as_uint160() == chain.stranger.script_hash
