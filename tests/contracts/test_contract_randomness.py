"""The randomness service contract on a real neo-go privnet: every method and every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from neo3.api.wrappers import ContractMethodResult
from neo3.contracts.contract import CONTRACT_HASHES
from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.services.randomness import rules as randomness
from neo_service_layer.services.randomness.rules import RandomnessContractState
from tests.contracts.contract_support import (
    REFUND_BLOCKS,
    UPDATE_DELAY,
    Chain,
    Deployment,
    Fulfilment,
    LocalRandomnessKeys,
    call,
    deploy_consumer,
    deploy_service,
    events,
    fault_of,
    fulfilment_args,
    message_point,
    request_facts,
    request_via_faulty,
    script,
    sign_fulfilment,
    stack,
    top_up,
)

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="session")]

GAS = deploy.GAS


async def fulfil(
    chain: Chain,
    d: Deployment,
    request_id: int,
    seed: bytes,
    *,
    deliver: bool,
    consumer: types.UInt160 | None = None,
) -> list[bool]:
    """Sign and send fulfill (and deliver in the same transaction); return deliver's result if sent.

    ``consumer``: the request's consumer (default: the faulty consumer)."""
    f = d.sign(request_id, seed, consumer)
    calls = [(d.service, "fulfill", [request_id, f.output, f.proof, f.signature])]
    if deliver:
        calls.append((d.service, "deliver", [request_id]))
    receipt = await chain.stranger.invoke(script(*calls))
    return [item.as_bool() for item in stack(receipt)[-1:]] if deliver else []


async def get_request(
    chain: Chain, d: Deployment, request_id: int
) -> tuple[RandomnessContractState, bytes, int]:
    """(state, output, numWords) from getRequest."""
    state, _consumer, num_words, _seed, output = (
        await chain.read(d.service, "getRequest", request_id)
    ).as_list()
    return RandomnessContractState(state.as_int()), output.as_bytes(), num_words.as_int()


# ---------------------------------------------------------------------------------------------------------
# read-only surface


async def test_initial_configuration(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    # price = base fee + callback GAS cap (both library defaults)
    assert (await chain.read(d.service, "baseFee")).as_int() == 10_000_000
    assert (await chain.read(d.service, "callbackGasCap")).as_int() == 50_000_000
    assert (await chain.read(d.service, "fee")).as_int() == 60_000_000
    assert (await chain.read(d.service, "publicKey")).as_bytes() == d.keys.public_key
    assert (await chain.read(d.service, "blsPublicKey")).as_bytes() == d.keys.bls_public_key
    assert (await chain.read(d.service, "owner")).as_uint160() == chain.owner.script_hash
    assert (await chain.read(d.service, "operator")).as_uint160() == chain.operator.script_hash
    assert (await chain.read(d.service, "updateDelay")).as_int() == UPDATE_DELAY
    assert (await chain.read(d.service, "refundBlocks")).as_int() == REFUND_BLOCKS
    assert [i.as_int() for i in (await chain.read(d.service, "keyInfo")).as_list()] == [1, 0, 0]
    assert (await chain.read(d.service, "isPaused")).as_bool() is False
    unknown = (await chain.read(d.service, "getRequest", 10**9)).as_list()
    assert unknown[0].as_int() == RandomnessContractState.NONE


# ---------------------------------------------------------------------------------------------------------
# payments


async def test_gas_payment_credits_consumer_named_in_data_or_sender(
    chain: Chain, deployed: Deployment
) -> None:
    d = deployed
    before = (await chain.read(d.service, "balanceOf", d.dice)).as_int()
    receipt = await chain.stranger.invoke(
        call(CONTRACT_HASHES.GAS_TOKEN, "transfer", [chain.stranger.script_hash, d.service, 3 * GAS, d.dice])
    )
    (credited,) = events(receipt, "BalanceCredited")
    assert credited[0].as_uint160() == d.dice
    assert credited[1].as_int() == 3 * GAS
    assert (await chain.read(d.service, "balanceOf", d.dice)).as_int() == before + 3 * GAS

    own = (await chain.read(d.service, "balanceOf", chain.stranger.script_hash)).as_int()
    await chain.stranger.invoke(
        call(CONTRACT_HASHES.GAS_TOKEN, "transfer", [chain.stranger.script_hash, d.service, GAS, None])
    )
    assert (await chain.read(d.service, "balanceOf", chain.stranger.script_hash)).as_int() == own + GAS


async def test_non_gas_payment_is_refused(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    neo_transfer = call(
        CONTRACT_HASHES.NEO_TOKEN, "transfer", [chain.committee.script_hash, d.service, 1, d.dice]
    )
    assert "only GAS is accepted" in fault_of(await chain.committee.test(neo_transfer))
    direct = call(d.service, "onNEP17Payment", [chain.stranger.script_hash, 5 * GAS, d.dice])
    assert "only GAS is accepted" in fault_of(await chain.stranger.test(direct))


# ---------------------------------------------------------------------------------------------------------
# the happy path with the dice example


async def test_dice_roll_end_to_end(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    fee = (await chain.read(d.service, "fee")).as_int()
    balance_before = (await chain.read(d.service, "balanceOf", d.dice)).as_int()
    collected_before = (await chain.read(d.service, "collectedFees")).as_int()

    receipt = await chain.stranger.invoke(call(d.dice, "roll"))
    (requested,) = events(receipt, "RandomnessRequested")
    request_id, consumer, num_words, seed = (
        requested[0].as_int(),
        requested[1].as_uint160(),
        requested[2].as_int(),
        requested[3].as_bytes(),
    )
    assert (consumer, num_words, len(seed)) == (d.dice, 1, 32)
    assert stack(receipt)[0].as_int() == request_id
    assert (await chain.read(d.dice, "pendingRequest")).as_int() == request_id
    # the fee is held in the request's escrow until it is answered
    assert (await chain.read(d.service, "balanceOf", d.dice)).as_int() == balance_before - fee
    assert (await chain.read(d.service, "escrowOf", request_id)).as_int() == fee
    assert (await chain.read(d.service, "collectedFees")).as_int() == collected_before
    state, output, _ = await get_request(chain, d, request_id)
    assert state == RandomnessContractState.PENDING
    assert output == b""
    assert (await chain.read(d.dice, "getRoll", request_id)).as_int() == 0

    f = d.sign(request_id, seed, d.dice)
    receipt = await chain.stranger.invoke(
        script(
            (d.service, "fulfill", [request_id, f.output, f.proof, f.signature]),
            (d.service, "deliver", [request_id]),
        )
    )
    assert stack(receipt)[-1].as_bool() is True
    assert (await chain.read(d.service, "escrowOf", request_id)).as_int() == 0
    assert (await chain.read(d.service, "collectedFees")).as_int() == collected_before + fee
    (fulfilled,) = events(receipt, "RandomnessFulfilled")
    assert [fulfilled[0].as_int(), fulfilled[1].as_bytes(), fulfilled[2].as_bytes()] == [
        request_id,
        f.output,
        f.proof,
    ]
    assert [e[0].as_int() for e in events(receipt, "RandomnessDelivered")] == [request_id]
    (rolled,) = events(receipt, "Rolled")
    expected = randomness.derive_words(f.output, 1)[0] % 6 + 1
    assert rolled[1].as_int() == expected
    assert (await chain.read(d.dice, "getRoll", request_id)).as_int() == expected
    assert (await chain.read(d.dice, "lastRoll")).as_int() == expected
    state, output, num_words = await get_request(chain, d, request_id)
    assert (state, output, num_words) == (RandomnessContractState.DELIVERED, f.output, 1)
    proof, version = (await chain.read(d.service, "getProof", request_id)).as_list()
    assert (proof.as_bytes(), version.as_int()) == (f.proof, 1)


async def test_words_delivered_equal_domain_derivation(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    user_data = bytes(range(256)) * 2  # 512 bytes: the maximum
    # storing 100 words costs the consumer's callback more than the default cap: a request made
    # under the default cap cannot be delivered (the delivery aborts), one that paid for more can
    capped_id, capped_seed = await request_via_faulty(chain, d, num_words=100)
    capped = script(
        (d.service, "fulfill", [capped_id, *fulfilment_args(d.sign(capped_id, capped_seed))]),
        (d.service, "deliver", [capped_id]),
    )
    assert "callback exceeded the GAS cap" in fault_of(await chain.stranger.test(capped))
    await chain.owner.invoke(call(d.service, "setCallbackGasCap", [10 * GAS]))
    try:
        request_id, seed = await request_via_faulty(chain, d, num_words=100, user_data=user_data)
    finally:
        await chain.owner.invoke(call(d.service, "setCallbackGasCap", [50_000_000]))
    assert await fulfil(chain, d, request_id, seed, deliver=True) == [True]
    output = d.sign(request_id, seed).output  # BLS and so the output are deterministic
    words = [w.as_int() for w in (await chain.read(d.faulty, "lastWords")).as_list()]
    assert words == randomness.derive_words(output, 100)
    assert all(0 <= w < 2**255 for w in words)
    assert (await chain.read(d.faulty, "lastUserData")).as_bytes() == user_data


async def test_dice_accepts_callbacks_only_from_the_service(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    forged = await chain.stranger.test(call(d.dice, "onRandomness", [0, [6], b"dice"]))
    assert "only the randomness service" in fault_of(forged)
    hijack = await chain.stranger.test(call(d.dice, "setService", [chain.stranger.script_hash]))
    assert "only the owner may do this" in fault_of(hijack)


# ---------------------------------------------------------------------------------------------------------
# refusals of request


async def test_request_limits(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    for num_words, user_data, reason in (
        (0, b"", "numWords must be at least 1"),
        (101, b"", "numWords must be at most 100"),
        (1, b"x" * 513, "userData must be at most 512 bytes"),
    ):
        receipt = await chain.stranger.test(call(d.faulty, "requestRandom", [num_words, user_data]))
        assert reason in fault_of(receipt)
    missing = await chain.stranger.test(call(d.faulty, "requestWithCallback", [1, "noSuchMethod"]))
    assert "consumer must be a contract with callback" in fault_of(missing)
    private = await chain.stranger.test(call(d.faulty, "requestWithCallback", [1, "_deploy"]))
    assert "callback must be a public method" in fault_of(private)
    from_account = await chain.stranger.test(call(d.service, "request", [1, "onRandomness", b""]))
    assert "consumer must be a contract with callback" in fault_of(from_account)


async def test_request_with_short_balance_is_refused(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    poor = await deploy_consumer(chain, chain.stranger, "faulty_consumer", d.service)
    assert (await chain.read(d.service, "balanceOf", poor)).as_int() == 0
    receipt = await chain.stranger.test(call(poor, "requestRandom", [1, b""]))
    assert "insufficient prepaid balance" in fault_of(receipt)
    price = (await chain.read(d.service, "fee")).as_int()
    await top_up(chain, d.service, poor, price - 1)
    assert "insufficient prepaid balance" in fault_of(
        await chain.stranger.test(call(poor, "requestRandom", [1, b""]))
    )
    await top_up(chain, d.service, poor, 1)
    assert (await chain.stranger.test(call(poor, "requestRandom", [1, b""]))).result.state == "HALT"


# ---------------------------------------------------------------------------------------------------------
# refusals of fulfill and deliver


async def test_fulfil_refusals(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    request_id, seed = await request_via_faulty(chain, d)
    good = d.sign(request_id, seed)

    async def refusal(request_id: int, output: bytes, proof: bytes, signature: bytes) -> str:
        receipt = await chain.stranger.test(
            call(d.service, "fulfill", [request_id, output, proof, signature])
        )
        return fault_of(receipt)

    tampered = bytes([good.signature[0] ^ 1]) + good.signature[1:]
    assert "invalid signature" in await refusal(request_id, good.output, good.proof, tampered)
    wrong_key = d.sign(request_id, seed, keys=LocalRandomnessKeys())
    assert "invalid signature" in await refusal(
        request_id, wrong_key.output, wrong_key.proof, wrong_key.signature
    )
    # the service's key signing another request's message
    other = d.sign(request_id + 1, seed)
    assert "invalid signature" in await refusal(request_id, other.output, other.proof, other.signature)
    assert "output must equal SHA-256(proof)" in await refusal(
        request_id, bytes(32), good.proof, good.signature
    )
    assert "unknown request" in await refusal(10**9, good.output, good.proof, good.signature)
    assert "request not fulfilled yet" in fault_of(
        await chain.stranger.test(call(d.service, "deliver", [request_id]))
    )

    assert await fulfil(chain, d, request_id, seed, deliver=True) == [True]
    assert "request is not pending" in await refusal(request_id, good.output, good.proof, good.signature)
    assert "request already delivered" in fault_of(
        await chain.stranger.test(call(d.service, "deliver", [request_id]))
    )
    assert "unknown request" in fault_of(await chain.stranger.test(call(d.service, "deliver", [10**9])))


async def test_fulfilment_bound_to_network_contract_and_consumer(chain: Chain, deployed: Deployment) -> None:
    """A fulfilment the service's own keys signed, but for another network magic, another deployment of
    the contract, another consumer, or off chain (magic 0, zero contract, a tenant's consumer), FAULTs;
    the one for this network, this contract and the request's consumer HALTs."""
    d = deployed
    assert d.magic >= 2**31  # conftest's privnet: u32le(magic) past NeoVM's sign bit
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    request_id, seed = await request_via_faulty(chain, d)
    (_state, consumer, _words, stored_seed, _output) = (
        await chain.read(d.service, "getRequest", request_id)
    ).as_list()
    assert consumer.as_uint160() == d.faulty
    assert stored_seed.as_bytes() == seed

    def fulfil_call(f: Fulfilment) -> ContractMethodResult[Any]:
        return call(d.service, "fulfill", [request_id, f.output, f.proof, f.signature])

    other_deployment = types.UInt160(bytes(reversed(d.service.to_array())))
    wrong = {
        "another network magic": request_facts(d.magic ^ 1, d.service, d.faulty, request_id, seed),
        "another contract": request_facts(d.magic, other_deployment, d.faulty, request_id, seed),
        "another consumer": request_facts(d.magic, d.service, d.dice, request_id, seed),
        "off chain": randomness.RandomnessFacts(
            randomness.OFFCHAIN_MAGIC,
            randomness.OFFCHAIN_CONTRACT,
            request_id,
            randomness.offchain_consumer("acme"),
            seed,
        ),
    }
    for what, facts in wrong.items():
        receipt = await chain.stranger.test(fulfil_call(sign_fulfilment(d.keys, facts)))
        assert "invalid signature" in fault_of(receipt), what

    right = sign_fulfilment(d.keys, request_facts(d.magic, d.service, d.faulty, request_id, seed))
    receipt = await chain.stranger.invoke(fulfil_call(right))
    assert receipt.result.state == "HALT", receipt.result.exception
    assert (await get_request(chain, d, request_id))[:2] == (RandomnessContractState.FULFILLED, right.output)


# ---------------------------------------------------------------------------------------------------------
# faulting callbacks


async def test_throwing_callback_keeps_result_and_reports_failure(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [1]))
    calls_before = (await chain.read(d.faulty, "calls")).as_int()
    request_id, seed = await request_via_faulty(chain, d, num_words=3)
    f = d.sign(request_id, seed)
    receipt = await chain.stranger.invoke(
        script(
            (d.service, "fulfill", [request_id, f.output, f.proof, f.signature]),
            (d.service, "deliver", [request_id]),
        )
    )
    assert stack(receipt)[-1].as_bool() is False
    (failed,) = events(receipt, "CallbackFailed")
    assert failed[0].as_int() == request_id
    assert failed[1].as_str() == "callback threw an exception"
    assert events(receipt, "RandomnessFulfilled")
    assert not events(receipt, "RandomnessDelivered")
    state, output, _ = await get_request(chain, d, request_id)
    assert (state, output) == (RandomnessContractState.CALLBACK_FAILED, f.output)
    assert (
        await chain.read(d.service, "getCallbackFailure", request_id)
    ).as_str() == "callback threw an exception"
    assert (
        await chain.read(d.faulty, "calls")
    ).as_int() == calls_before  # the callee's writes were rolled back

    # the consumer is fixed: anyone may retry the delivery
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    receipt = await chain.stranger.invoke(call(d.service, "deliver", [request_id]))
    assert stack(receipt)[0].as_bool() is True
    assert (await get_request(chain, d, request_id))[0] == RandomnessContractState.DELIVERED
    words = [w.as_int() for w in (await chain.read(d.faulty, "lastWords")).as_list()]
    assert words == randomness.derive_words(f.output, 3)


async def test_aborting_callback_cannot_block_fulfilment(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [2]))
    request_id, seed = await request_via_faulty(chain, d)
    f = d.sign(request_id, seed)
    fulfil_call = (d.service, "fulfill", [request_id, f.output, f.proof, f.signature])
    both = await chain.stranger.test(script(fulfil_call, (d.service, "deliver", [request_id])))
    assert "faulty consumer aborts" in fault_of(
        both
    )  # ABORT cannot be caught: the service sends fulfill alone

    await chain.stranger.invoke(script(fulfil_call))
    state, output, _ = await get_request(chain, d, request_id)
    assert (state, output) == (RandomnessContractState.FULFILLED, f.output)
    assert "faulty consumer aborts" in fault_of(
        await chain.stranger.test(call(d.service, "deliver", [request_id]))
    )

    mark = call(d.service, "markCallbackFailed", [request_id, "callback aborts: faulty consumer aborts"])
    assert "only the operator" in fault_of(await chain.stranger.test(mark))
    assert "only the operator" in fault_of(await chain.owner.test(mark))
    receipt = await chain.operator.invoke(mark)
    (failed,) = events(receipt, "CallbackFailed")
    assert failed[1].as_str() == "callback aborts: faulty consumer aborts"
    state, output, _ = await get_request(chain, d, request_id)
    assert (state, output) == (RandomnessContractState.CALLBACK_FAILED, f.output)
    assert "only a fulfilled, undelivered request" in fault_of(await chain.operator.test(mark))
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))


# ---------------------------------------------------------------------------------------------------------
# BLS proof


async def test_verify_proof_pairing(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    request_id, seed = await request_via_faulty(chain, d)
    pending = await chain.stranger.test(call(d.service, "verifyProof", [request_id, bytes(96)]))
    assert "request not fulfilled yet" in fault_of(pending)
    await fulfil(chain, d, request_id, seed, deliver=False)

    right = message_point(randomness.vrf_input(d.facts(request_id, seed)))
    receipt = await chain.stranger.test(call(d.service, "verifyProof", [request_id, right]))
    assert stack(receipt)[0].as_bool() is True
    assert receipt.gas_consumed < 10 * GAS
    wrong = message_point(randomness.vrf_input(d.facts(request_id + 1, seed)))
    assert (
        stack(await chain.stranger.test(call(d.service, "verifyProof", [request_id, wrong])))[0].as_bool()
        is False
    )


# ---------------------------------------------------------------------------------------------------------
# owner functions


async def test_pause_blocks_requests_but_not_fulfilment(chain: Chain, deployed: Deployment) -> None:
    d = deployed
    await chain.stranger.invoke(call(d.faulty, "setMode", [0]))
    request_id, seed = await request_via_faulty(chain, d)
    await chain.owner.invoke(call(d.service, "pause"))
    try:
        assert (await chain.read(d.service, "isPaused")).as_bool() is True
        refused = await chain.stranger.test(call(d.faulty, "requestRandom", [1, b""]))
        assert "service is paused" in fault_of(refused)
        assert await fulfil(chain, d, request_id, seed, deliver=True) == [True]
    finally:
        await chain.owner.invoke(call(d.service, "unpause"))
    assert (await chain.read(d.service, "isPaused")).as_bool() is False
    assert (await chain.stranger.test(call(d.faulty, "requestRandom", [1, b""]))).result.state == "HALT"


# ---------------------------------------------------------------------------------------------------------
# a separate service instance for key rotation, update and destroy


async def test_key_rotation(chain: Chain, deployed: Deployment) -> None:
    old_keys, new_keys, newest_keys = LocalRandomnessKeys(), LocalRandomnessKeys(), LocalRandomnessKeys()
    service = await deploy_service(chain, chain.owner, chain.owner.script_hash, old_keys)
    consumer = await deploy_consumer(chain, chain.owner, "faulty_consumer", service)
    await top_up(chain, service, consumer, 5 * GAS)
    d = Deployment(service, deployed.dice, consumer, old_keys, deployed.magic)
    before_id, before_seed = await request_via_faulty(chain, d)
    early_id, early_seed = await request_via_faulty(chain, d)

    receipt = await chain.owner.invoke(
        call(service, "rotateKey", [new_keys.public_key, new_keys.bls_public_key, 1000])
    )
    assert stack(receipt)[0].as_int() == 2
    (rotated,) = events(receipt, "KeyRotated")
    assert rotated[0].as_int() == 2
    assert rotated[1].as_bytes() == new_keys.public_key
    assert (await chain.read(service, "publicKey")).as_bytes() == new_keys.public_key
    version, cutoff, _deadline = [i.as_int() for i in (await chain.read(service, "keyInfo")).as_list()]
    assert (version, cutoff) == (2, early_id + 1)
    after_id, after_seed = await request_via_faulty(chain, d)

    # the old key still serves requests made before the rotation, not later ones
    await fulfil(chain, d, before_id, before_seed, deliver=False)
    assert (await chain.read(service, "getProof", before_id)).as_list()[1].as_int() == 1
    point = message_point(randomness.vrf_input(d.facts(before_id, before_seed)))
    assert (
        stack(await chain.stranger.test(call(service, "verifyProof", [before_id, point])))[0].as_bool()
        is True
    )
    old_for_new = d.sign(after_id, after_seed, keys=old_keys)
    refused = await chain.stranger.test(
        call(service, "fulfill", [after_id, old_for_new.output, old_for_new.proof, old_for_new.signature])
    )
    assert "invalid signature" in fault_of(refused)
    d_new = Deployment(service, deployed.dice, consumer, new_keys, deployed.magic)
    await fulfil(chain, d_new, after_id, after_seed, deliver=False)
    assert (await chain.read(service, "getProof", after_id)).as_list()[1].as_int() == 2

    # a rotation without grace retires the previous key at once, even for earlier requests
    await chain.owner.invoke(
        call(service, "rotateKey", [newest_keys.public_key, newest_keys.bls_public_key, 0])
    )
    stale = d.sign(early_id, early_seed, keys=new_keys)
    refused = await chain.stranger.test(
        call(service, "fulfill", [early_id, stale.output, stale.proof, stale.signature])
    )
    assert "invalid signature" in fault_of(refused)
    await fulfil(
        chain,
        Deployment(service, deployed.dice, consumer, newest_keys, deployed.magic),
        early_id,
        early_seed,
        deliver=False,
    )

    bad = await chain.owner.test(
        call(service, "rotateKey", [new_keys.public_key[1:], new_keys.bls_public_key, 0])
    )
    assert "publicKey must be a 33-byte" in fault_of(bad)
